// The node's NAT rules as one shape, whichever tool showed them: an
// iptables-save nat table (iptables-nft, iptables-legacy; v4 and v6) or a
// native nftables table with nat chains (`nft -j list`). The parsers
// (parse-iptables-nat.ts, parse-nft-nat.ts) build it; the pure model in
// reconcile/nat/ decides from it which packets each NAT rule rewrites.
//
// Only what decides which packets reach a rule is kept as a match; anything
// a parser cannot read becomes an `unknown` match, which the model treats as
// "may match any packet" (an untracked packet skips every NAT rule, so
// guessing "no" could break traffic; guessing "yes" only keeps a NOTRACK rule
// out). Types only.
import type { PortRange } from '../../policy/types.js';
import type { IpFamily } from '../notrack/packet-matches.js';

export type NatHook = 'prerouting' | 'input' | 'output' | 'postrouting';

/** Which way of reading showed a table. */
export type NatSourceName = 'iptables-nft' | 'iptables-legacy' | 'nftables';

/** An interface name; `prefix`: any name starting with it (iptables "eth+", nft "eth*"). */
export interface InterfaceName {
  name: string;
  prefix: boolean;
}

/**
 * One condition on the packet; `negated`: the packet must not match it. A
 * list of them in one rule is a conjunction; a list of values in one match
 * (several CIDRs, ports, names) is a union.
 */
export type NatMatch =
  | { kind: 'family'; family: IpFamily }
  | { kind: 'iif' | 'oif'; names: InterfaceName[]; negated: boolean }
  /** Protocol names as iptables and nft print them (tcp, udp, icmp, ...), or numbers as text. */
  | { kind: 'protocol'; protocols: string[]; negated: boolean }
  /** Addresses: a CIDR, a bare address, or a range "a-b". */
  | { kind: 'saddr' | 'daddr'; addresses: string[]; negated: boolean }
  | { kind: 'sport' | 'dport'; ports: PortRange[]; negated: boolean }
  /** The address is one of this node's own (iptables addrtype LOCAL, nft fib type local). */
  | { kind: 'local'; field: 'saddr' | 'daddr'; negated: boolean }
  /** (packet mark & mask) == value. */
  | { kind: 'mark'; mask: number; value: number; negated: boolean }
  /** A match the parser cannot read (text says which): may match any packet. */
  | { kind: 'unknown'; text: string };

/** Where a NAT rule sends the packet: absent parts stay as they were (DNAT to ":8080" keeps the address). */
export interface NatTranslation {
  addresses?: string[];
  ports?: PortRange;
  /** Its arguments cannot be read (an iptables target seen through nft, a map lookup): it may send anywhere. */
  unknown?: true;
}

/** netmap (iptables NETMAP): the destination in PREROUTING/OUTPUT, the source in POSTROUTING/INPUT. */
type NatActionKind = 'dnat' | 'redirect' | 'snat' | 'masquerade' | 'netmap';

export type NatAction =
  | { kind: 'nat'; nat: NatActionKind; to: NatTranslation }
  /** Sets (or may set) these mark bits; 'unknown' when the value cannot be read. */
  | { kind: 'mark'; bits: number | 'unknown' }
  | { kind: 'jump' | 'goto'; chain: string }
  /** RETURN: back to the calling chain. */
  | { kind: 'return' }
  /** ACCEPT, DROP, REJECT: no further rule of this table sees the packet. */
  | { kind: 'stop' }
  /**
   * A lookup that picks one of several ways on (a verdict map, a concatenated
   * set, numgen): each branch adds its own matches and runs its own actions.
   */
  | { kind: 'branch'; branches: NatBranch[] };

export interface NatBranch {
  matches: NatMatch[];
  actions: NatAction[];
  /** The element as the tool prints it ("10.0.0.89 . tcp . 80 : goto service-..."), for reports. */
  text?: string;
}

export interface NatRule {
  /** The rule as the tool prints it (iptables-save without "-A CHAIN", nft's statement). */
  text: string;
  /** Its comment (iptables -m comment, nft comment), if any. */
  comment?: string;
  matches: NatMatch[];
  /** In the order the rule runs them. */
  actions: NatAction[];
}

export interface NatChain {
  name: string;
  /** Base chains only: the hook they are attached to. */
  hook?: NatHook;
  rules: NatRule[];
}

export interface NatTable {
  source: NatSourceName;
  /** inet: both families. */
  family: IpFamily | 'inet';
  /** "nat" for iptables; the table's own name for nftables ("kube-proxy"). */
  name: string;
  chains: Map<string, NatChain>;
}

/** The node's own addresses as CIDRs (v4 and v6), 127.0.0.0/8 and ::1 included. */
export interface LocalAddresses {
  cidrs: string[];
}

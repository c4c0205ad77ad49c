// Pure: which NOTRACK rules would untrack a packet that a NAT rule on this
// node rewrites. An untracked packet skips the nat table, and its flow's later
// packets find no translation to undo: the connection breaks. Tracking is the
// safe side, so a NOTRACK rule overlapping any NAT rule is withheld.
//
// What is compared (nat-paths.ts says how each NAT rule's reach is found):
// - The packet a NAT rule sees, where raw sees it first. nat PREROUTING and
//   INPUT packets passed raw PREROUTING with the same input interface; nat
//   OUTPUT packets passed raw OUTPUT with the same output interface (the route
//   chosen before any DNAT). POSTROUTING packets came through either: from raw
//   PREROUTING when forwarded (never over lo: what arrives on lo is for this
//   node), from raw OUTPUT when sent here. SNAT and MASQUERADE of a packet
//   leaving over lo are not counted: both ends of such a flow are this node,
//   which reaches itself with or without the rewrite.
// - The reply of the flow it rewrote, which conntrack must translate back.
//   After a DNAT the reply comes from the new destination (to its address and
//   port), into raw OUTPUT when that is this node (a REDIRECT always is),
//   into raw PREROUTING otherwise; after an SNAT or MASQUERADE it comes back
//   to the new source (this node's address for MASQUERADE) from the original
//   destination, into raw PREROUTING by the interface the flow left by.
// - Both packets of each NOTRACK flow (packet-matches.ts), and over lo the
//   node's own addresses only: lo carries nothing else (a packet sent to a
//   local address, DNAT'd or not, is routed over lo before nat OUTPUT runs);
//   and what leaves by another interface is for another host.
// - The client's port. A flow's source port (the reply's destination port) is
//   taken to be an ephemeral port, 32768-65535 (Linux's default range starts
//   at 32768; IANA's dynamic range is 49152-65535), unless the NAT rule itself
//   names source ports. Without that every NAT rule would overlap every port
//   rule through the client side of its flows (a NodePort flow from source
//   port 443 is possible, and the NOTRACK rule's own reply match for port 443
//   would untrack it), and nothing could ever be untracked. A NOTRACK rule
//   whose ports reach into that range does overlap it.
// - The node's own addresses (addrtype LOCAL, fib type local, lo, MASQUERADE's
//   new source) come from its routing tables; when they could not be read,
//   "local" is any address.
import type { LocalAddresses, NatHook, NatMatch } from '../../kernel/nat/nat-rules.js';
import type { PacketMatch } from '../../kernel/notrack/packet-matches.js';
import { resolveGuards, type GuardedPath } from './mark-guards.js';
import { walkNat, type NatPath, type NatWalk, type RuleRef } from './nat-paths.js';
import {
  addressSet,
  ALL_ADDRESSES,
  ALL_PORTS,
  ANY_INTERFACE,
  BOTH_FAMILIES,
  EVERY_PACKET,
  intersect,
  intersectAddresses,
  overlap,
  portSet,
  protocolName,
  subtract,
  subtractAddresses,
  type AddressSet,
  type InterfaceSet,
  type Space,
} from './packet-space.js';

/** Client ports: see above. */
export const EPHEMERAL_PORTS = portSet([{ from: 32768, to: 65535 }]);
const LO: InterfaceSet = { unions: [[{ name: 'lo', prefix: false }]], excluded: [] };
const NOT_LO = (s: InterfaceSet): InterfaceSet => ({ ...s, excluded: [...s.excluded, { name: 'lo', prefix: false }] });

type RawHook = PacketMatch['hook'];

/** The packets of a NAT rule's flow that raw sees at one hook. */
interface RawView {
  hook: RawHook;
  space: Space;
  direction: 'original' | 'reply';
}

/** One NAT rule reached by one path, as raw sees its flow's packets. */
export interface NatSite {
  path: NatPath | GuardedPath;
  views: RawView[];
  owner: string;
}

/** A NAT rule that a NOTRACK rule overlaps. */
export interface NatOverlap {
  /** The NAT rule. */
  rule: RuleRef;
  nat: NatPath['nat'];
  /** kube-proxy, CNI portmap, Docker, ... or unknown. */
  owner: string;
  /** The rule on its path that says most about which packets get there (a NodePort's port match), when not the rule itself. */
  via?: RuleRef;
  /** For a mark-guarded rule: the rule that would have marked the packet. */
  markedBy?: RuleRef;
  /** The NOTRACK rule untracks the packets it rewrites (original) or their replies (reply). */
  direction: 'original' | 'reply';
}

export interface RuleOverlaps {
  /** How many NAT rules it overlaps. */
  count: number;
  /** The first few, for the reports. */
  first: NatOverlap[];
}

export const SHOWN_OVERLAPS = 3;

function localSet(local: LocalAddresses | null): AddressSet | null {
  return local ? addressSet(local.cidrs) : null;
}

/** The packets a conjunction of NAT matches allows. `clientPorts`: an unconstrained source port is a client's. */
function spaceOf(matches: readonly NatMatch[], local: AddressSet | null): Space {
  const namesSport = matches.some((m) => m.kind === 'sport' && !m.negated);
  let s: Space = { ...EVERY_PACKET, sport: namesSport ? ALL_PORTS : EPHEMERAL_PORTS };
  for (const m of matches) {
    switch (m.kind) {
      case 'family':
        s = { ...s, families: new Set([...s.families].filter((f) => f === m.family)) };
        break;
      case 'iif':
      case 'oif': {
        const cur = s[m.kind];
        s = { ...s, [m.kind]: m.negated ? { ...cur, excluded: [...cur.excluded, ...m.names] } : { ...cur, unions: [...cur.unions, m.names] } };
        break;
      }
      case 'protocol': {
        const names = m.protocols.map(protocolName);
        const p = s.protocols;
        s = m.negated
          ? { ...s, protocols: { ...p, except: new Set([...p.except, ...names]) } }
          : { ...s, protocols: { ...p, only: new Set(p.only ? names.filter((n) => p.only!.has(n)) : names) } };
        break;
      }
      case 'saddr':
      case 'daddr': {
        const set = addressSet(m.addresses);
        if (set) s = { ...s, [m.kind]: m.negated ? subtractAddresses(s[m.kind], set) : intersectAddresses(s[m.kind], set) };
        break;
      }
      case 'sport':
      case 'dport': {
        const set = portSet(m.ports);
        s = { ...s, [m.kind]: m.negated ? subtract(s[m.kind], set) : intersect(s[m.kind], set) };
        break;
      }
      case 'local':
        if (local) s = { ...s, [m.field]: m.negated ? subtractAddresses(s[m.field], local) : intersectAddresses(s[m.field], local) };
        break;
      case 'mark':
      case 'unknown':
        break;
    }
  }
  return s;
}

/** Whether every address of `a` is in `b`. */
function within(a: AddressSet, b: AddressSet): boolean {
  return subtract(a.ipv4, b.ipv4).length === 0 && subtract(a.ipv6, b.ipv6).length === 0;
}

function disjoint(a: AddressSet, b: AddressSet): boolean {
  return intersect(a.ipv4, b.ipv4).length === 0 && intersect(a.ipv6, b.ipv6).length === 0;
}

/** Where raw sees the packets the rule rewrites. */
function originalViews(hook: NatHook, s: Space, local: AddressSet | null): RawView[] {
  switch (hook) {
    case 'prerouting':
    case 'input':
      return [{ hook: 'prerouting', space: s, direction: 'original' }];
    case 'output':
      return [{ hook: 'output', space: s, direction: 'original' }];
    case 'postrouting': {
      // Leaving by an interface other than lo, the packet is not for this node.
      const daddr = local ? subtractAddresses(s.daddr, local) : s.daddr;
      return [
        { hook: 'prerouting', space: { ...s, daddr, iif: NOT_LO(s.iif), oif: ANY_INTERFACE }, direction: 'original' },
        { hook: 'output', space: { ...s, daddr, oif: NOT_LO(s.oif) }, direction: 'original' },
      ];
    }
  }
}

/** Where raw sees the replies of the flows the rule rewrites. */
function replyViews(path: NatPath, s: Space, local: AddressSet | null): RawView[] {
  const to = path.to;
  // An unreadable translation may send anywhere: any address, any port.
  const toPorts = to.unknown ? ALL_PORTS : to.ports ? portSet([to.ports]) : null;
  const toAddresses = to.unknown ? ALL_ADDRESSES : to.addresses ? addressSet(to.addresses) : null;
  // A reply into raw PREROUTING comes from another host (not a local source); into raw OUTPUT, from this one.
  const reply = (hook: RawHook, fields: Partial<Space> & Pick<Space, 'saddr'>): RawView => ({
    hook,
    direction: 'reply',
    space: {
      ...EVERY_PACKET,
      families: s.families,
      protocols: s.protocols,
      ...fields,
      saddr: local === null ? fields.saddr : hook === 'prerouting' ? subtractAddresses(fields.saddr, local) : intersectAddresses(fields.saddr, local),
    },
  });
  if (path.nat === 'dnat' || path.nat === 'redirect') {
    const saddr = path.nat === 'redirect' ? (local ?? ALL_ADDRESSES) : (toAddresses ?? s.daddr);
    const fields = { saddr, sport: toPorts ?? s.dport, daddr: s.saddr, dport: s.sport };
    // The new destination answers: this node (into raw OUTPUT; to a local client over lo) or another host (into raw PREROUTING).
    const here = path.nat === 'redirect' || local === null || !disjoint(saddr, local);
    const elsewhere = path.nat !== 'redirect' && (local === null || !within(saddr, local));
    return [
      ...(elsewhere ? [reply('prerouting', { ...fields, iif: NOT_LO(ANY_INTERFACE) })] : []),
      ...(here ? [reply('output', { ...fields, oif: path.hook === 'output' ? LO : ANY_INTERFACE })] : []),
    ];
  }
  // MASQUERADE's new source is always one of the node's addresses.
  const newSource = path.nat === 'masquerade' ? (local ?? ALL_ADDRESSES) : (toAddresses ?? ALL_ADDRESSES);
  const fields = { saddr: s.daddr, sport: s.dport, daddr: newSource, dport: toPorts ?? s.sport };
  switch (path.hook) {
    case 'postrouting':
      return [reply('prerouting', { ...fields, iif: NOT_LO(s.oif) })];
    case 'input':
      return [reply('output', fields)];
    default:
      // Reached through a mark set before routing: the peer may be anywhere.
      return [reply('prerouting', { ...fields, iif: NOT_LO(ANY_INTERFACE) }), reply('output', fields)];
  }
}

const OWNERS: ReadonlyArray<[RegExp, string]> = [
  [/^KUBE-/, 'kube-proxy'],
  [/^CNI-(HOSTPORT-|DN-)/, 'CNI portmap'],
  [/^CNI-/, 'CNI'],
  [/^DOCKER/, 'Docker'],
];

/** Who wrote a NAT rule, from its table and the chains on its path (the rule's own first). */
export function ownerOf(path: NatPath | GuardedPath): string {
  if (/^nftables \S+ kube-proxy$/.test(path.rule.table)) return 'kube-proxy';
  for (const ref of [path.rule, ...[...path.via].reverse()]) {
    for (const [pattern, owner] of OWNERS) if (pattern.test(ref.chain)) return owner;
  }
  return 'unknown';
}

/** The NAT paths of the tables as raw sees their packets: computed once per ruleset. */
export function natSites(walk: NatWalk, local: LocalAddresses | null): NatSite[] {
  const localAddresses = localSet(local);
  return resolveGuards(walk).map((path) => {
    const s = spaceOf(path.matches, localAddresses);
    return { path, owner: ownerOf(path), views: [...originalViews(path.hook, s, localAddresses), ...replyViews(path, s, localAddresses)] };
  });
}

/** The packets of one NOTRACK packet match. */
export function notrackSpace(m: PacketMatch, local: LocalAddresses | null): Space {
  const iface = (name: string | undefined): InterfaceSet =>
    name === undefined ? ANY_INTERFACE : { unions: [[name.endsWith('+') ? { name: name.slice(0, -1), prefix: true } : { name, prefix: false }]], excluded: [] };
  const localAddresses = localSet(local);
  const onLo = (m.inInterface ?? m.outInterface) === 'lo' && localAddresses !== null;
  const addresses = (list: string[]) => {
    const set = list.length ? (addressSet(list) ?? ALL_ADDRESSES) : ALL_ADDRESSES;
    return onLo ? intersectAddresses(set, localAddresses) : set;
  };
  return {
    families: m.family ? new Set([m.family]) : BOTH_FAMILIES,
    iif: iface(m.inInterface),
    oif: iface(m.outInterface),
    protocols: m.protocol ? { only: new Set([m.protocol]), except: new Set() } : EVERY_PACKET.protocols,
    saddr: addresses(m.sources),
    daddr: addresses(m.destinations),
    sport: m.sourcePorts.length ? portSet(m.sourcePorts) : ALL_PORTS,
    dport: m.destinationPorts.length ? portSet(m.destinationPorts) : ALL_PORTS,
  };
}

/** The rule on the path that says most about the packet (the last of equals: the nearest to the NAT rule). */
function tellingVia(path: NatPath): RuleRef | undefined {
  let best: RuleRef | undefined;
  for (const ref of path.via) if (ref.narrows > 0 && ref.narrows >= (best?.narrows ?? 0)) best = ref;
  return best;
}

function describe(site: NatSite, direction: 'original' | 'reply'): NatOverlap {
  const p = site.path;
  const via = tellingVia(p);
  return {
    rule: p.rule,
    nat: p.nat,
    owner: site.owner,
    direction,
    ...(via ? { via } : {}),
    ...('markedBy' in p ? { markedBy: p.markedBy.rule } : {}),
  };
}

/**
 * For each NOTRACK rule (by name, with its packet matches), the NAT rules it
 * overlaps; rules overlapping none are left out. Each NAT rule counts once,
 * shown by a path where the NOTRACK rule would untrack the packets it
 * rewrites when there is one (easier to recognise than a reply).
 */
export function overlapsOf(
  rules: ReadonlyArray<{ name: string; matches: PacketMatch[] }>,
  sites: readonly NatSite[],
  local: LocalAddresses | null,
  shown = SHOWN_OVERLAPS,
): Map<string, RuleOverlaps> {
  const out = new Map<string, RuleOverlaps>();
  for (const rule of rules) {
    const spaces = rule.matches.map((m) => ({ hook: m.hook, space: notrackSpace(m, local) }));
    const hits = (site: NatSite, direction: RawView['direction']) =>
      site.views.some((v) => v.direction === direction && spaces.some((n) => n.hook === v.hook && overlap(n.space, v.space)));
    const found = new Map<string, NatOverlap>();
    for (const site of sites) {
      const key = `${site.path.rule.table}\n${site.path.rule.chain}\n${site.path.rule.text}`;
      const had = found.get(key);
      if (had?.direction === 'original') continue;
      if (hits(site, 'original')) found.set(key, describe(site, 'original'));
      else if (!had && hits(site, 'reply')) found.set(key, describe(site, 'reply'));
    }
    if (found.size === 0) continue;
    out.set(rule.name, { count: found.size, first: shownFirst([...found.values()], shown) });
  }
  return out;
}

/** The few shown: one of each owner first (kube-proxy's and portmap's, say), packets before replies. */
function shownFirst(all: NatOverlap[], shown: number): NatOverlap[] {
  const ordered = [...all.filter((o) => o.direction === 'original'), ...all.filter((o) => o.direction === 'reply')];
  const owners = new Set<string>();
  const picked = ordered.filter((o) => !owners.has(o.owner) && owners.add(o.owner));
  return [...picked, ...ordered.filter((o) => !picked.includes(o))].slice(0, shown);
}

/** Walks the tables: the part of the analysis that depends on the ruleset only. */
export function analyseNat(tables: Parameters<typeof walkNat>[0], local: LocalAddresses | null): NatSite[] {
  return natSites(walkNat(tables), local);
}

// Pure rendering of the desired NOTRACK set as our own nftables table, in the
// exact text `nft list table` prints (so check() compares lines), and the
// `nft -f` scripts that replace or delete that table in one transaction.
//
// acceptUntracked renders nothing here, on purpose. In nftables an `accept`
// ends only the base chain it is in: the packet still traverses every other
// base chain on the same hook, and a drop in any of them is final (nftables
// wiki, "Configuring chains", base chain priority). A chain of ours accepting
// `ct state untracked` before the host's input chain would therefore change
// nothing; the stateful rule that would drop untracked packets lives in the
// user's own table, which we never touch, so there they must add
// `ct state untracked accept` themselves. (With the iptables backends the
// accept works because our chain is jumped to from inside filter INPUT.)
import { mergePortRanges } from '../../policy/intervals.js';
import type { DesiredNotrackRule, PortRange } from '../../policy/types.js';
import type { NotrackDesired } from './backend.js';
import { familyOf, packetMatches, type Hook, type PacketMatch } from './packet-matches.js';

export const NFT_TABLE = 'inet conntrack_operator';
/** The table comment that marks it as ours: a table with our name and without it is someone else's. */
export const NFT_OWNER_COMMENT = 'comment "conntrack-operator"';

const CHAIN_OF_HOOK: Record<Hook, string> = { prerouting: 'notrack-pre', output: 'notrack-out' };
// Priority raw (-300): before conntrack (-200) sees the packet.
const CHAIN_HEADER: Record<Hook, string> = {
  prerouting: 'type filter hook prerouting priority raw; policy accept;',
  output: 'type filter hook output priority raw; policy accept;',
};

function set(items: string[]): string {
  return items.length === 1 ? (items[0] ?? '') : `{ ${items.join(', ')} }`;
}

// A set holding a range is an interval set, and nft merges adjacent elements
// of those when it lists them ({ 80, 81-90 } comes back as { 80-90 }): merge
// them first so what we send is what nft prints. (Addresses: the policy
// layer's normalised CIDRs are expected not to be adjacent or overlapping.)
function ports(list: PortRange[]): string {
  const interval = list.some((p) => p.from !== p.to);
  return set(mergePortRanges(list, interval).map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`)));
}

// nft prints a host address without its full-length prefix.
function address(cidr: string): string {
  const hostPrefix = familyOf(cidr) === 'ipv4' ? '/32' : '/128';
  return cidr.endsWith(hostPrefix) ? cidr.slice(0, -hostPrefix.length) : cidr;
}

// iptables reads a trailing "+" as "any name with this prefix"; nft spells that "*" (and reads "+" literally).
function interfaceName(name: string): string {
  return name.endsWith('+') ? `${name.slice(0, -1)}*` : name;
}

/** The match expressions of one statement, as nft prints them (single-element sets lose their braces). */
function matchParts(m: PacketMatch): string[] {
  const ip = m.family === 'ipv6' ? 'ip6' : 'ip';
  const parts: string[] = [];
  if (m.inInterface) parts.push(`iifname "${interfaceName(m.inInterface)}"`);
  if (m.outInterface) parts.push(`oifname "${interfaceName(m.outInterface)}"`);
  if (m.sources.length > 0) parts.push(`${ip} saddr ${set(m.sources.map(address))}`);
  if (m.destinations.length > 0) parts.push(`${ip} daddr ${set(m.destinations.map(address))}`);
  if (m.protocol && m.destinationPorts.length > 0) parts.push(`${m.protocol} dport ${ports(m.destinationPorts)}`);
  else if (m.protocol && m.sourcePorts.length > 0) parts.push(`${m.protocol} sport ${ports(m.sourcePorts)}`);
  else if (m.protocol) parts.push(`meta l4proto ${m.protocol}`);
  return parts;
}

/** One rule statement, as nft prints it. */
function ruleText(m: PacketMatch): string {
  return [...matchParts(m), 'notrack', `comment "${m.rule}"`].join(' ');
}

/** Statements per chain of our table, header first; a chain without rules is left out. */
function renderNftChains(desired: NotrackDesired): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  for (const m of desired.rules.flatMap(packetMatches)) {
    const name = CHAIN_OF_HOOK[m.hook];
    chains.set(name, [...(chains.get(name) ?? [CHAIN_HEADER[m.hook]]), ruleText(m)]);
  }
  return chains;
}

/** One line for humans (the plan command), in nft syntax: 'notrack-pre iifname "lo", notrack-out oifname "lo"'. */
export function describeNftRule(rule: DesiredNotrackRule): string {
  return packetMatches(rule)
    .map((m) => [CHAIN_OF_HOOK[m.hook], ...matchParts(m)].join(' '))
    .join(', ');
}

/** Canonical lines "chain: statement" for every chain of our table (header included). */
export function renderNftLines(desired: NotrackDesired): string[] {
  return [...renderNftChains(desired)].flatMap(([chain, statements]) => statements.map((s) => `${chain}: ${s}`));
}

/** Whether `nft list table` output shows our marker at table level (outside every chain). */
export function nftTableIsOurs(text: string): boolean {
  let depth = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.endsWith('{')) depth++;
    else if (line === '}') depth--;
    else if (depth === 1 && line === NFT_OWNER_COMMENT) return true;
  }
  return false;
}

/** Parses `nft list table` output into the same "chain: statement" lines. */
export function parseNftTable(text: string): string[] {
  const lines: string[] = [];
  let chain: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const opening = /^chain (\S+) \{$/.exec(line);
    if (opening) chain = opening[1];
    else if (line === '}') chain = undefined;
    else if (chain && line !== '') lines.push(`${chain}: ${line}`);
  }
  return lines;
}

// `add` first so that `delete` never fails on a missing table; the whole
// script is one nft transaction, so the kernel sees old table or new, never a mix.
const RESET = `add table ${NFT_TABLE}\ndelete table ${NFT_TABLE}\n`;

export function nftDeleteScript(): string {
  return RESET;
}

export function nftSyncScript(desired: NotrackDesired): string {
  const byChain = renderNftChains(desired);
  if (byChain.size === 0) return RESET;
  const chains = [...byChain].map(([chain, statements]) => [`  chain ${chain} {`, ...statements.map((s) => `    ${s}`), '  }'].join('\n'));
  return `${RESET}table ${NFT_TABLE} {\n  ${NFT_OWNER_COMMENT}\n${chains.join('\n')}\n}\n`;
}

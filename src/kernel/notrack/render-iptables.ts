// Pure rendering of the desired NOTRACK set into iptables-save lines, in the
// exact canonical form iptables-save prints them (so check() compares text).
//
// Target: `-j CT --notrack`. iptables 1.8 still accepts `-j NOTRACK`, but
// iptables-extensions(8) documents it as an alias "equivalent with -j CT
// --notrack", and both load the same kernel module (xt_CT); iptables-save
// prints back whichever was used, so we use the documented general form.
import type { DesiredNotrackRule, PortRange } from '../../policy/types.js';
import type { NotrackDesired } from './backend.js';
import { packetMatches, type Hook, type IpFamily, type PacketMatch } from './packet-matches.js';

export type IptablesTable = 'raw' | 'filter';

const CHAIN_PRE = 'CTOP-NOTRACK-PRE';
const CHAIN_OUT = 'CTOP-NOTRACK-OUT';
const CHAIN_ACCEPT = 'CTOP-ACCEPT-UNTRACKED';
/** The comment that marks a jump rule in a built-in chain as ours. */
export const OWNER_COMMENT = 'conntrack-operator';

export interface OwnedChain {
  table: IptablesTable;
  name: string;
  /** The built-in chain that jumps to it. */
  parent: string;
  /** The jump must be the parent's first rule (filter INPUT), not just present. */
  jumpFirst: boolean;
}

export const OWNED_CHAINS: readonly OwnedChain[] = [
  { table: 'raw', name: CHAIN_PRE, parent: 'PREROUTING', jumpFirst: false },
  { table: 'raw', name: CHAIN_OUT, parent: 'OUTPUT', jumpFirst: false },
  { table: 'filter', name: CHAIN_ACCEPT, parent: 'INPUT', jumpFirst: true },
];

/** The tables our chains live in, raw first: the only ones we save and restore. */
export const OWNED_TABLES: readonly IptablesTable[] = [...new Set(OWNED_CHAINS.map((c) => c.table))];

/** Rule lines per owned chain name; a chain with no lines is not wanted. */
export type ChainLines = Map<string, string[]>;

const CHAIN_OF_HOOK: Record<Hook, string> = { prerouting: CHAIN_PRE, output: CHAIN_OUT };
const PARENT_OF_HOOK: Record<Hook, string> = { prerouting: 'PREROUTING', output: 'OUTPUT' };
// multiport takes at most 15 ports, a range counting as two.
const MULTIPORT_LIMIT = 15;

/**
 * The first rule of each chain we create: it matches and does nothing, and
 * marks the chain as ours. A chain with one of our names but without it is
 * someone else's, and is never flushed, filled or deleted.
 */
export function markerLine(chain: string): string {
  return `-A ${chain} -m comment --comment ${OWNER_COMMENT}`;
}

/** The jump rule's arguments after `-A/-I/-D PARENT`. */
export function jumpSpec(chain: OwnedChain): string {
  return `-m comment --comment ${OWNER_COMMENT} -j ${chain.name}`;
}

function portList(ports: PortRange[]): string {
  return ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}:${p.to}`)).join(',');
}

function portChunks(ports: PortRange[]): PortRange[][] {
  const chunks: PortRange[][] = [];
  let weight = MULTIPORT_LIMIT;
  for (const p of ports) {
    const w = p.from === p.to ? 1 : 2;
    if (weight + w > MULTIPORT_LIMIT) {
      chunks.push([]);
      weight = 0;
    }
    chunks.at(-1)?.push(p);
    weight += w;
  }
  return chunks;
}

/** The match arguments in iptables-save order: -s -d -i -o -p, then matches in the order given. */
function matchArgs(m: PacketMatch, source: string | undefined, destination: string | undefined, ports: PortRange[]): string[] {
  const args: string[] = [];
  if (source) args.push('-s', source);
  if (destination) args.push('-d', destination);
  if (m.inInterface) args.push('-i', m.inInterface);
  if (m.outInterface) args.push('-o', m.outInterface);
  if (m.protocol) args.push('-p', m.protocol);
  if (ports.length > 0) args.push('-m', 'multiport', m.destinationPorts.length > 0 ? '--dports' : '--sports', portList(ports));
  return args;
}

// iptables expands -s a,b into one rule per address; we render them expanded
// so the lines compare 1:1 with iptables-save.
function expand(m: PacketMatch): string[][] {
  const sources = m.sources.length > 0 ? m.sources : [undefined];
  const destinations = m.destinations.length > 0 ? m.destinations : [undefined];
  const ports = [...m.sourcePorts, ...m.destinationPorts];
  const chunks = ports.length > 0 ? portChunks(ports) : [[]];
  return sources.flatMap((s) => destinations.flatMap((d) => chunks.map((c) => matchArgs(m, s, d, c))));
}

function appliesTo(m: PacketMatch, family: IpFamily): boolean {
  return m.family === undefined || m.family === family;
}

/** The desired lines of each owned chain for one family (ipv4: iptables, ipv6: ip6tables). */
export function renderIptablesChains(desired: NotrackDesired, family: IpFamily): ChainLines {
  const chains: ChainLines = new Map();
  const add = (chain: string, line: string): void => {
    const lines = chains.get(chain);
    if (lines) lines.push(line);
    else chains.set(chain, [markerLine(chain), line]);
  };
  for (const rule of desired.rules) {
    for (const m of packetMatches(rule).filter((x) => appliesTo(x, family))) {
      const chain = CHAIN_OF_HOOK[m.hook];
      for (const args of expand(m)) {
        add(chain, ['-A', chain, ...args, '-m', 'comment', '--comment', rule.name, '-j', 'CT', '--notrack'].join(' '));
        // Accept what our PREROUTING rules untracked, not every UNTRACKED packet: a bare
        // "--ctstate UNTRACKED -j ACCEPT" would let anyone past INPUT by sending from an
        // untracked source port (an outbound rule's --sports) to any local port. For the same
        // reason a source-port match is accepted only when it is limited to source addresses.
        const openToAnyone = m.sourcePorts.length > 0 && m.sources.length === 0;
        if (desired.acceptUntracked && m.hook === 'prerouting' && !openToAnyone) {
          add(
            CHAIN_ACCEPT,
            ['-A', CHAIN_ACCEPT, ...args, '-m', 'conntrack', '--ctstate', 'UNTRACKED', '-m', 'comment', '--comment', rule.name, '-j', 'ACCEPT'].join(' '),
          );
        }
      }
    }
  }
  return chains;
}

function describeMatch(m: PacketMatch): string {
  const ports = [...m.sourcePorts, ...m.destinationPorts];
  const args = matchArgs(m, m.sources.join(',') || undefined, m.destinations.join(',') || undefined, ports);
  return [`raw ${PARENT_OF_HOOK[m.hook]}`, ...args].join(' ');
}

/** One line for humans (the plan command): "raw PREROUTING -i lo, raw OUTPUT -o lo"; addresses comma-joined as on the iptables command line. */
export function describeIptablesRule(rule: DesiredNotrackRule): string {
  return packetMatches(rule).map(describeMatch).join(', ');
}

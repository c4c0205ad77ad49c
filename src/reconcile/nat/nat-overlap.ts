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
import type { InterfaceName, LocalAddresses, NatHook, NatMatch } from '../../kernel/nat/nat-rules.js';
import type { IpFamily } from '../../kernel/notrack/packet-matches.js';
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
  type Intervals,
  type Space,
} from './packet-space.js';

const NO_PROTOCOL: ReadonlySet<string> = new Set();
const ANY_PROTOCOL = { except: NO_PROTOCOL };
const IPV4: ReadonlySet<IpFamily> = new Set(['ipv4']);
const IPV6: ReadonlySet<IpFamily> = new Set(['ipv6']);
const NO_FAMILY: ReadonlySet<IpFamily> = new Set();

/** Client ports: see above. */
const EPHEMERAL_PORTS = portSet([{ from: 32768, to: 65535 }]);
const LO: InterfaceSet = { unions: [[{ name: 'lo', prefix: false }]], excluded: [] };
const NOT_LO_ANY: InterfaceSet = { unions: [], excluded: [{ name: 'lo', prefix: false }] };
const NOT_LO = (s: InterfaceSet): InterfaceSet => (s === ANY_INTERFACE ? NOT_LO_ANY : { ...s, excluded: [...s.excluded, { name: 'lo', prefix: false }] });

type RawHook = PacketMatch['hook'];

/** The packets of a NAT rule's flow that raw sees at one hook. */
interface RawView {
  hook: RawHook;
  space: Space;
  direction: 'original' | 'reply';
}

/** One NAT rule reached by one path (its views, as raw sees its flow's packets, are worked out when compared). */
export interface NatSite {
  path: NatPath | GuardedPath;
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

const SHOWN_OVERLAPS = 3;

function localSet(local: LocalAddresses | null): AddressSet | null {
  return local ? addressSet(local.cidrs) : null;
}

/** Each match's addresses and ports, parsed once per comparison: paths share their match objects. */
type Compiled = Map<NatMatch, AddressSet | Intervals<number> | null>;

function compiled<T extends AddressSet | Intervals<number> | null>(cache: Compiled, m: NatMatch, make: () => T): T {
  if (!cache.has(m)) cache.set(m, make());
  return cache.get(m) as T;
}

/** The packets a conjunction of NAT matches allows; an unconstrained source port is a client's. */
function spaceOf(matches: readonly NatMatch[], local: AddressSet | null, cache: Compiled): Space {
  let families: ReadonlySet<IpFamily> = BOTH_FAMILIES;
  // Most paths name no interface: they share ANY_INTERFACE.
  const named = matches.some((m) => m.kind === 'iif' || m.kind === 'oif');
  const iif = named ? { unions: [] as InterfaceName[][], excluded: [] as InterfaceName[] } : ANY_INTERFACE;
  const oif = named ? { unions: [] as InterfaceName[][], excluded: [] as InterfaceName[] } : ANY_INTERFACE;
  let only: Set<string> | undefined;
  let except: Set<string> | undefined;
  const addr = { saddr: ALL_ADDRESSES, daddr: ALL_ADDRESSES };
  const port = { sport: matches.some((m) => m.kind === 'sport' && !m.negated) ? ALL_PORTS : EPHEMERAL_PORTS, dport: ALL_PORTS };
  for (const m of matches) {
    switch (m.kind) {
      case 'family':
        if (families.has(m.family)) families = m.family === 'ipv4' ? IPV4 : IPV6;
        else families = NO_FAMILY;
        break;
      case 'iif':
      case 'oif': {
        const set = (m.kind === 'iif' ? iif : oif) as { unions: InterfaceName[][]; excluded: InterfaceName[] };
        if (m.negated) set.excluded.push(...m.names);
        else set.unions.push(m.names);
        break;
      }
      case 'protocol': {
        const names = m.protocols.map(protocolName);
        if (m.negated) for (const n of names) (except ??= new Set()).add(n);
        else only = new Set(only ? names.filter((n) => only!.has(n)) : names);
        break;
      }
      case 'saddr':
      case 'daddr': {
        const set = compiled(cache, m, () => addressSet(m.addresses));
        if (set) addr[m.kind] = m.negated ? subtractAddresses(addr[m.kind], set) : intersectAddresses(addr[m.kind], set);
        break;
      }
      case 'sport':
      case 'dport': {
        const set = compiled(cache, m, () => portSet(m.ports));
        port[m.kind] = m.negated ? subtract(port[m.kind], set) : intersect(port[m.kind], set);
        break;
      }
      case 'local':
        if (local) addr[m.field] = m.negated ? subtractAddresses(addr[m.field], local) : intersectAddresses(addr[m.field], local);
        break;
      case 'mark':
      case 'unknown':
        break;
    }
  }
  return { families, iif, oif, protocols: only || except ? { ...(only ? { only } : {}), except: except ?? NO_PROTOCOL } : ANY_PROTOCOL, ...addr, ...port };
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
function ownerOf(path: NatPath | GuardedPath): string {
  if (/^nftables \S+ kube-proxy$/.test(path.rule.table)) return 'kube-proxy';
  for (const ref of [path.rule, ...[...path.via].reverse()]) {
    for (const [pattern, owner] of OWNERS) if (pattern.test(ref.chain)) return owner;
  }
  return 'unknown';
}

/** The NAT paths of the tables, guards resolved. */
function natSites(walk: NatWalk): NatSite[] {
  return resolveGuards(walk).map((path) => ({ path, owner: ownerOf(path) }));
}

/** Where raw sees the packets of a site's flows (built when compared, not kept: there are as many as paths). */
function viewsOf(site: NatSite, local: AddressSet | null, cache: Compiled): RawView[] {
  const s = spaceOf(site.path.matches, local, cache);
  return [...originalViews(site.path.hook, s, local), ...replyViews(site.path, s, local)];
}

/** The packets of one NOTRACK packet match. */
function notrackSpace(m: PacketMatch, local: LocalAddresses | null): Space {
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
  const localAddresses = localSet(local);
  const checked = rules.map((rule) => ({
    name: rule.name,
    spaces: rule.matches.map((m) => ({ hook: m.hook, space: notrackSpace(m, local) })),
    found: new Map<number, NatOverlap>(),
  }));
  const cache: Compiled = new Map();
  for (const site of sites) {
    const key = site.path.rule.id;
    if (checked.every((c) => c.found.get(key)?.direction === 'original')) continue;
    const views = viewsOf(site, localAddresses, cache);
    for (const c of checked) {
      const had = c.found.get(key)?.direction;
      if (had === 'original') continue;
      if (hits(views, c.spaces, 'original')) c.found.set(key, describe(site, 'original'));
      else if (!had && hits(views, c.spaces, 'reply')) c.found.set(key, describe(site, 'reply'));
    }
  }
  const out = new Map<string, RuleOverlaps>();
  for (const c of checked) if (c.found.size > 0) out.set(c.name, { count: c.found.size, first: shownFirst([...c.found.values()], shown) });
  return out;
}

/** Whether a NOTRACK rule's packets meet a site's views of one direction. */
function hits(views: RawView[], spaces: ReadonlyArray<{ hook: RawHook; space: Space }>, direction: RawView['direction']): boolean {
  for (const v of views) {
    if (v.direction !== direction) continue;
    for (const n of spaces) if (n.hook === v.hook && overlap(n.space, v.space)) return true;
  }
  return false;
}

/** The few shown: one of each owner first (kube-proxy's and portmap's, say), packets before replies. */
function shownFirst(all: NatOverlap[], shown: number): NatOverlap[] {
  const ordered = [...all.filter((o) => o.direction === 'original'), ...all.filter((o) => o.direction === 'reply')];
  const owners = new Set<string>();
  const picked = ordered.filter((o) => !owners.has(o.owner) && owners.add(o.owner));
  return [...picked, ...ordered.filter((o) => !picked.includes(o))].slice(0, shown);
}

/** Walks the tables: the part of the analysis that depends on the ruleset only. */
export function analyseNat(tables: Parameters<typeof walkNat>[0]): NatSite[] {
  return natSites(walkNat(tables));
}

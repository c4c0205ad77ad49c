// Pure: sets of packets described one header field at a time, and whether
// two such descriptions can hold for the same packet. A Space is a
// conjunction: the packet is of one of `families`, arrives on an interface
// allowed by `iif`, leaves by one allowed by `oif`, carries one of the
// protocols, and its addresses and ports lie in the given sets. Addresses and
// ports are kept as sorted, disjoint half-open intervals, so intersection and
// subtraction are exact; interfaces stay patterns (names and prefixes), since
// their universe is unbounded.
import { parseCidr } from '../../policy/cidr.js';
import type { PortRange } from '../../policy/types.js';
import type { InterfaceName } from '../../kernel/nat/nat-rules.js';
import type { IpFamily } from '../../kernel/notrack/packet-matches.js';

/** [lo, hi): sorted, disjoint, not touching. */
export type Intervals<T extends number | bigint> = ReadonlyArray<readonly [T, T]>;

function merged<T extends number | bigint>(list: Array<readonly [T, T]>): Intervals<T> {
  const sorted = [...list].filter(([lo, hi]) => lo < hi).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[T, T]> = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && lo <= last[1]) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

export function intersect<T extends number | bigint>(a: Intervals<T>, b: Intervals<T>): Intervals<T> {
  const out: Array<readonly [T, T]> = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    const lo = alo > blo ? alo : blo;
    const hi = ahi < bhi ? ahi : bhi;
    if (lo < hi) out.push([lo, hi]);
    if (ahi < bhi) i++;
    else j++;
  }
  return out;
}

export function subtract<T extends number | bigint>(a: Intervals<T>, b: Intervals<T>): Intervals<T> {
  const out: Array<readonly [T, T]> = [];
  let j = 0;
  for (const [alo, ahi] of a) {
    let lo = alo;
    while (j < b.length && b[j]![1] <= lo) j++;
    let k = j;
    while (k < b.length && b[k]![0] < ahi) {
      const [blo, bhi] = b[k]!;
      if (blo > lo) out.push([lo, blo]);
      if (bhi > lo) lo = bhi;
      k++;
    }
    if (lo < ahi) out.push([lo, ahi]);
  }
  return out;
}

// ---- addresses ----

/** Addresses of each family, as intervals of their numeric value. */
export interface AddressSet {
  ipv4: Intervals<bigint>;
  ipv6: Intervals<bigint>;
}

const V4_END = 1n << 32n;
const V6_END = 1n << 128n;
export const ALL_ADDRESSES: AddressSet = { ipv4: [[0n, V4_END]], ipv6: [[0n, V6_END]] };
export const NO_ADDRESSES: AddressSet = { ipv4: [], ipv6: [] };

function bytesValue(bytes: number[]): bigint {
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

/** One address text: a CIDR, a bare address, or a range "a-b"; null when unreadable. */
function addressInterval(text: string): { family: IpFamily; interval: readonly [bigint, bigint] } | null {
  const dash = text.indexOf('-');
  if (dash > 0) {
    const a = parseCidr(text.slice(0, dash));
    const b = parseCidr(text.slice(dash + 1));
    if (!a.ok || !b.ok || a.cidr.family !== b.cidr.family) return null;
    return { family: a.cidr.family === 4 ? 'ipv4' : 'ipv6', interval: [bytesValue(a.cidr.bytes), bytesValue(b.cidr.bytes) + 1n] };
  }
  const p = parseCidr(text);
  if (!p.ok) return null;
  const bits = p.cidr.family === 4 ? 32 : 128;
  const lo = bytesValue(p.cidr.bytes);
  return { family: p.cidr.family === 4 ? 'ipv4' : 'ipv6', interval: [lo, lo + (1n << BigInt(bits - p.cidr.prefix))] };
}

/** The union of the given addresses; null when one cannot be read. */
export function addressSet(texts: readonly string[]): AddressSet | null {
  const v4: Array<readonly [bigint, bigint]> = [];
  const v6: Array<readonly [bigint, bigint]> = [];
  for (const t of texts) {
    const r = addressInterval(t);
    if (!r) return null;
    (r.family === 'ipv4' ? v4 : v6).push(r.interval);
  }
  return { ipv4: merged(v4), ipv6: merged(v6) };
}

export function intersectAddresses(a: AddressSet, b: AddressSet): AddressSet {
  return { ipv4: intersect(a.ipv4, b.ipv4), ipv6: intersect(a.ipv6, b.ipv6) };
}

export function subtractAddresses(a: AddressSet, b: AddressSet): AddressSet {
  return { ipv4: subtract(a.ipv4, b.ipv4), ipv6: subtract(a.ipv6, b.ipv6) };
}

// ---- ports ----

export const ALL_PORTS: Intervals<number> = [[0, 65536]];

export function portSet(ranges: readonly PortRange[]): Intervals<number> {
  return merged(ranges.map((r) => [r.from, r.to + 1] as const));
}

// ---- protocols ----

/** Protocols: `only` (undefined: any) minus `except`. Names as iptables prints them. */
export interface ProtocolSet {
  only?: ReadonlySet<string>;
  except: ReadonlySet<string>;
}

export const ANY_PROTOCOL: ProtocolSet = { except: new Set() };
/** The protocols that carry ports: a port match implies one of them. */
export const PORT_PROTOCOLS: ProtocolSet = { only: new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']), except: new Set() };
const BY_NUMBER: Readonly<Record<string, string>> = { '6': 'tcp', '17': 'udp', '132': 'sctp', '33': 'dccp', '136': 'udplite', '1': 'icmp' };

export function protocolName(p: string): string {
  return BY_NUMBER[p] ?? p.toLowerCase();
}

export function intersectProtocols(a: ProtocolSet, b: ProtocolSet): ProtocolSet {
  const only = a.only && b.only ? new Set([...a.only].filter((p) => b.only!.has(p))) : (a.only ?? b.only);
  return { ...(only ? { only } : {}), except: new Set([...a.except, ...b.except]) };
}

function protocolsNonEmpty(p: ProtocolSet): boolean {
  return p.only === undefined || [...p.only].some((x) => !p.except.has(x));
}

// ---- interfaces ----

/** Interface names: one of each `unions` and none of `excluded`. */
export interface InterfaceSet {
  unions: ReadonlyArray<readonly InterfaceName[]>;
  excluded: readonly InterfaceName[];
}

export const ANY_INTERFACE: InterfaceSet = { unions: [], excluded: [] };

export function intersectInterfaces(a: InterfaceSet, b: InterfaceSet): InterfaceSet {
  return { unions: [...a.unions, ...b.unions], excluded: [...a.excluded, ...b.excluded] };
}

const matchesName = (p: InterfaceName, name: string) => (p.prefix ? name.startsWith(p.name) : name === p.name);

/**
 * Whether some interface name satisfies the set. The candidates are the
 * exact names named, or (all patterns being prefixes) any name longer than
 * the longest prefix: an exclusion of exact names cannot exclude all of them.
 */
export function interfacesNonEmpty(s: InterfaceSet): boolean {
  const search = (i: number, exact: string | undefined, prefix: string): boolean => {
    if (i === s.unions.length) {
      if (exact !== undefined) return !s.excluded.some((p) => matchesName(p, exact));
      return !s.excluded.some((p) => p.prefix && prefix.startsWith(p.name));
    }
    return s.unions[i]!.some((p) => {
      if (exact !== undefined) return matchesName(p, exact) && search(i + 1, exact, prefix);
      if (!p.prefix) return p.name.startsWith(prefix) && search(i + 1, p.name, prefix);
      if (p.name.startsWith(prefix)) return search(i + 1, undefined, p.name);
      return prefix.startsWith(p.name) && search(i + 1, undefined, prefix);
    });
  };
  return search(0, undefined, '');
}

// ---- the space ----

export interface Space {
  families: ReadonlySet<IpFamily>;
  iif: InterfaceSet;
  oif: InterfaceSet;
  protocols: ProtocolSet;
  saddr: AddressSet;
  daddr: AddressSet;
  sport: Intervals<number>;
  dport: Intervals<number>;
}

export const BOTH_FAMILIES: ReadonlySet<IpFamily> = new Set(['ipv4', 'ipv6']);

export const EVERY_PACKET: Space = {
  families: BOTH_FAMILIES,
  iif: ANY_INTERFACE,
  oif: ANY_INTERFACE,
  protocols: ANY_PROTOCOL,
  saddr: ALL_ADDRESSES,
  daddr: ALL_ADDRESSES,
  sport: ALL_PORTS,
  dport: ALL_PORTS,
};

export function intersectSpaces(a: Space, b: Space): Space {
  return {
    families: new Set([...a.families].filter((f) => b.families.has(f))),
    iif: intersectInterfaces(a.iif, b.iif),
    oif: intersectInterfaces(a.oif, b.oif),
    protocols: intersectProtocols(a.protocols, b.protocols),
    saddr: intersectAddresses(a.saddr, b.saddr),
    daddr: intersectAddresses(a.daddr, b.daddr),
    sport: intersect(a.sport, b.sport),
    dport: intersect(a.dport, b.dport),
  };
}

const portsRestricted = (p: Intervals<number>) => !(p.length === 1 && p[0]![0] === 0 && p[0]![1] === 65536);

/** Whether at least one packet lies in both spaces. */
export function overlap(a: Space, b: Space): boolean {
  const sport = intersect(a.sport, b.sport);
  const dport = intersect(a.dport, b.dport);
  if (sport.length === 0 || dport.length === 0) return false;
  let protocols = intersectProtocols(a.protocols, b.protocols);
  if (portsRestricted(sport) || portsRestricted(dport)) protocols = intersectProtocols(protocols, PORT_PROTOCOLS);
  if (!protocolsNonEmpty(protocols)) return false;
  const family = [...a.families].some((f) => b.families.has(f) && intersect(a.saddr[f], b.saddr[f]).length > 0 && intersect(a.daddr[f], b.daddr[f]).length > 0);
  return family && interfacesNonEmpty(intersectInterfaces(a.iif, b.iif)) && interfacesNonEmpty(intersectInterfaces(a.oif, b.oif));
}

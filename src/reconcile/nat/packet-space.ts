// Pure: sets of packets described one header field at a time, and whether
// two such descriptions can hold for the same packet. A Space is a
// conjunction: the packet is of one of `families`, arrives on an interface
// allowed by `iif`, leaves by one allowed by `oif`, carries one of the
// protocols, and its addresses and ports lie in the given sets. Addresses and
// ports are kept as sorted, disjoint half-open intervals, so intersection and
// subtraction are exact; interfaces stay patterns (names and prefixes), since
// their universe is unbounded.
import { addressValue, parseCidr } from '../../policy/cidr.js';
import { mergeIntervals } from '../../policy/intervals.js';
import type { PortRange } from '../../policy/types.js';
import type { InterfaceName } from '../../kernel/nat/nat-rules.js';
import type { IpFamily } from '../../kernel/notrack/packet-matches.js';

/** [lo, hi): sorted, disjoint, not touching. */
export type Intervals<T extends number | bigint> = ReadonlyArray<readonly [T, T]>;

function merged<T extends number | bigint>(list: Array<readonly [T, T]>): Intervals<T> {
  return mergeIntervals(list, true);
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

/** Whether the two share a value (intersect(a, b) is not empty), without building the intersection. */
function intersects<T extends number | bigint>(a: Intervals<T>, b: Intervals<T>): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [alo, ahi] = a[i]!;
    const [blo, bhi] = b[j]!;
    if ((alo > blo ? alo : blo) < (ahi < bhi ? ahi : bhi)) return true;
    if (ahi < bhi) i++;
    else j++;
  }
  return false;
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

/** Addresses of each family, as intervals of their numeric value (IPv4 as plain numbers: BigInt is far slower). */
export interface AddressSet {
  ipv4: Intervals<number>;
  ipv6: Intervals<bigint>;
}

const V4_END = 2 ** 32;
const V6_END = 1n << 128n;
export const ALL_ADDRESSES: AddressSet = { ipv4: [[0, V4_END]], ipv6: [[0n, V6_END]] };

type AddressInterval = { family: 'ipv4'; interval: readonly [number, number] } | { family: 'ipv6'; interval: readonly [bigint, bigint] };

const v4Value = (bytes: number[]) => Number(addressValue(bytes));

/** One address text: a CIDR, a bare address, or a range "a-b"; null when unreadable. */
function addressInterval(text: string): AddressInterval | null {
  const dash = text.indexOf('-');
  const parts = dash > 0 ? [parseCidr(text.slice(0, dash)), parseCidr(text.slice(dash + 1))] : [parseCidr(text)];
  if (parts.some((p) => !p.ok)) return null;
  const [a, b] = parts.map((p) => (p as Extract<typeof p, { ok: true }>).cidr);
  if (b && b.family !== a!.family) return null;
  const size = (bits: number) => bits - (b ? bits : a!.prefix);
  if (a!.family === 4) {
    const lo = v4Value(a!.bytes);
    return { family: 'ipv4', interval: [lo, b ? v4Value(b.bytes) + 1 : lo + 2 ** size(32)] };
  }
  const lo = addressValue(a!.bytes);
  return { family: 'ipv6', interval: [lo, b ? addressValue(b.bytes) + 1n : lo + (1n << BigInt(size(128)))] };
}

/** The union of the given addresses; null when one cannot be read. */
export function addressSet(texts: readonly string[]): AddressSet | null {
  const v4: Array<readonly [number, number]> = [];
  const v6: Array<readonly [bigint, bigint]> = [];
  for (const t of texts) {
    const r = addressInterval(t);
    if (!r) return null;
    if (r.family === 'ipv4') v4.push(r.interval);
    else v6.push(r.interval);
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
interface ProtocolSet {
  only?: ReadonlySet<string>;
  except: ReadonlySet<string>;
}

/** The protocols that carry ports: a port match implies one of them. */
const PORTED: ReadonlySet<string> = new Set(['tcp', 'udp', 'sctp', 'dccp', 'udplite']);
const BY_NUMBER: Readonly<Record<string, string>> = { '6': 'tcp', '17': 'udp', '132': 'sctp', '33': 'dccp', '136': 'udplite', '1': 'icmp' };

export function protocolName(p: string): string {
  return BY_NUMBER[p] ?? p.toLowerCase();
}

/** Whether some protocol is in both sets (one carrying ports when `ported`). Allocates nothing: it runs per path. */
function protocolsMeet(a: ProtocolSet, b: ProtocolSet, ported: boolean): boolean {
  const candidates = a.only ?? b.only ?? (ported ? PORTED : undefined);
  // Any protocol but finitely many: some is left.
  if (candidates === undefined) return true;
  for (const p of candidates) {
    if ((a.only && !a.only.has(p)) || (b.only && !b.only.has(p)) || a.except.has(p) || b.except.has(p)) continue;
    if (ported && !PORTED.has(p)) continue;
    return true;
  }
  return false;
}

// ---- interfaces ----

/** Interface names: one of each `unions` and none of `excluded`. */
export interface InterfaceSet {
  unions: ReadonlyArray<readonly InterfaceName[]>;
  excluded: readonly InterfaceName[];
}

export const ANY_INTERFACE: InterfaceSet = { unions: [], excluded: [] };

const matchesName = (p: InterfaceName, name: string) => (p.prefix ? name.startsWith(p.name) : name === p.name);

/**
 * Whether some interface name satisfies both sets. The candidates are the
 * exact names named, or (all patterns being prefixes) any name longer than
 * the longest prefix: an exclusion of exact names cannot exclude all of them.
 */
export function interfacesMeet(a: InterfaceSet, b: InterfaceSet = ANY_INTERFACE): boolean {
  const unions = b.unions.length === 0 ? a.unions : a.unions.length === 0 ? b.unions : [...a.unions, ...b.unions];
  const excluded = (name: string, prefix: boolean) =>
    [a.excluded, b.excluded].some((list) => list.some((p) => (prefix ? p.prefix && name.startsWith(p.name) : matchesName(p, name))));
  const search = (i: number, exact: string | undefined, prefix: string): boolean => {
    if (i === unions.length) return exact !== undefined ? !excluded(exact, false) : !excluded(prefix, true);
    return unions[i]!.some((p) => {
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
  protocols: { except: new Set() },
  saddr: ALL_ADDRESSES,
  daddr: ALL_ADDRESSES,
  sport: ALL_PORTS,
  dport: ALL_PORTS,
};

const restricted = (p: Intervals<number>) => !(p.length === 1 && p[0]![0] === 0 && p[0]![1] === 65536);

/** Whether at least one packet lies in both spaces. Runs per path and NOTRACK match: allocates (almost) nothing. */
export function overlap(a: Space, b: Space): boolean {
  if (!intersects(a.dport, b.dport) || !intersects(a.sport, b.sport)) return false;
  const ported = restricted(a.sport) || restricted(b.sport) || restricted(a.dport) || restricted(b.dport);
  if (!protocolsMeet(a.protocols, b.protocols, ported)) return false;
  let family = false;
  for (const f of a.families) {
    if (!b.families.has(f)) continue;
    const meets =
      f === 'ipv4'
        ? intersects(a.saddr.ipv4, b.saddr.ipv4) && intersects(a.daddr.ipv4, b.daddr.ipv4)
        : intersects(a.saddr.ipv6, b.saddr.ipv6) && intersects(a.daddr.ipv6, b.daddr.ipv6);
    if (meets) family = true;
  }
  return family && interfacesMeet(a.iif, b.iif) && interfacesMeet(a.oif, b.oif);
}

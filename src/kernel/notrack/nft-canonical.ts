// nft prints a set as the kernel holds it: elements sorted, overlapping and
// adjacent ones merged (interval sets), host addresses without their /32 or
// /128, IPv4-mapped IPv6 addresses in dotted form. Compared as text with what
// we wrote, such a set differs on every pass: endless false drift and a
// rewrite each time. Both sides go through canonicalNftLine before comparing.
import { addressValue, cidrRange, formatCidr, parseCidr, type Cidr } from '../../policy/cidr.js';
import { mergeIntervals } from '../../policy/intervals.js';

const SET = /\b(ip6? (?:saddr|daddr)|(?:tcp|udp) (?:dport|sport)) (\{ [^}]* \}|[^\s{}]+)/g;

interface SetInterval {
  family: 0 | 4 | 6; // 0: ports
  start: bigint;
  end: bigint; // inclusive
}

/** The line with every address and port set in one canonical form; a set it cannot read is left as it is. */
export function canonicalNftLine(line: string): string {
  return line.replace(SET, (whole, key: string, set: string) => {
    const items = set.startsWith('{')
      ? set
          .slice(1, -1)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [set];
    const intervals = items.map((item) => (key.startsWith('ip') ? addressInterval(item) : portInterval(item)));
    if (intervals.some((i) => i === undefined)) return whole;
    const merged = merge(intervals as SetInterval[]).map(format);
    return `${key} ${merged.length === 1 ? merged[0] : `{ ${merged.join(', ')} }`}`;
  });
}

function portInterval(item: string): SetInterval | undefined {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(item);
  if (!m) return undefined;
  return { family: 0, start: BigInt(m[1]!), end: BigInt(m[2] ?? m[1]!) };
}

function addressInterval(item: string): SetInterval | undefined {
  const [from, to, extra] = item.split('-');
  if (extra !== undefined) return undefined;
  const a = parseCidr(from ?? '');
  if (!a.ok) return undefined;
  const [start, end] = cidrRange(a.cidr);
  if (to === undefined) return { family: a.cidr.family, start, end: end - 1n };
  const b = parseCidr(to);
  if (!b.ok || b.cidr.family !== a.cidr.family || b.cidr.prefix !== b.cidr.bytes.length * 8) return undefined;
  return { family: a.cidr.family, start, end: addressValue(b.cidr.bytes) };
}

/** Per family (ports first, then IPv4, IPv6), overlapping and adjacent intervals merged. */
function merge(intervals: SetInterval[]): SetInterval[] {
  return ([0, 4, 6] as const).flatMap((family) =>
    mergeIntervals(
      intervals.filter((i) => i.family === family).map((i) => [i.start, i.end + 1n] as const),
      true,
    ).map(([start, end]) => ({ family, start, end: end - 1n })),
  );
}

function format(i: SetInterval): string {
  if (i.family === 0) return i.start === i.end ? `${i.start}` : `${i.start}-${i.end}`;
  const bits = i.family === 4 ? 32 : 128;
  const size = i.end - i.start + 1n;
  const isPrefix = (size & (size - 1n)) === 0n && i.start % size === 0n;
  if (isPrefix) {
    const prefix = bits - (size.toString(2).length - 1);
    return address({ family: i.family, bytes: toBytes(i.start, bits), prefix }, prefix === bits);
  }
  return `${address({ family: i.family, bytes: toBytes(i.start, bits), prefix: bits }, true)}-${address({ family: i.family, bytes: toBytes(i.end, bits), prefix: bits }, true)}`;
}

function address(cidr: Cidr, host: boolean): string {
  const text = formatCidr(cidr);
  return host ? text.slice(0, text.lastIndexOf('/')) : text;
}

function toBytes(n: bigint, bits: number): number[] {
  return Array.from({ length: bits / 8 }, (_, i) => Number((n >> BigInt(bits - 8 * (i + 1))) & 0xffn));
}

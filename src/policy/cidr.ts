// Exact IPv4/IPv6 CIDR parsing, canonical form and overlap, without node:net
// (policy code is pure). Addresses are kept as byte arrays (4 or 16 bytes).
import { mergeIntervals, type Interval } from './intervals.js';

export interface Cidr {
  family: 4 | 6;
  bytes: number[]; // network address, host bits cleared
  prefix: number;
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Parses "10.0.0.0/8", "fd00::/64" or a bare address (a /32 or /128). Host bits are cleared. */
export function parseCidr(text: string): CidrResult {
  const [address = '', prefixText, extra] = text.split('/');
  if (extra !== undefined) return fail(text, 'more than one "/"');
  const family = address.includes(':') ? 6 : 4;
  const bytes = family === 4 ? parseIPv4(address) : parseIPv6(address);
  if (typeof bytes === 'string') return fail(text, bytes);
  const bits = bytes.length * 8;
  if (prefixText !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(prefixText)) return fail(text, `prefix "${prefixText}" is not a number`);
  const prefix = prefixText === undefined ? bits : Number(prefixText);
  if (prefix > bits) return fail(text, `prefix /${prefix} is longer than ${bits} bits (IPv${family})`);
  return { ok: true, cidr: { family, bytes: mask(bytes, prefix), prefix } };
}

/**
 * What parseCidr accepts, as one regular expression source (anchored), in the
 * subset ECMAScript and RE2 read alike: for schemas that cannot run code, such
 * as the chart's values.schema.json (test/policy/cidr.test.ts holds the two equal).
 */
export function cidrPattern(): string {
  const octet = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
  const ipv4 = `${octet}(?:\\.${octet}){3}`;
  const hex = '[0-9a-fA-F]{1,4}';
  const exactly = (n: number) => (n === 0 ? '' : n === 1 ? hex : `${hex}(?::${hex}){${n - 1}}`);
  const upTo = (n: number) => (n === 0 ? '' : n === 1 ? `(?:${hex})?` : `(?:${hex}(?::${hex}){0,${n - 1}})?`);
  const groupsBefore = (n: number) => (n === 0 ? '' : `(?:${hex}:){0,${n}}`);
  // Eight groups, or six and an IPv4 address; "::" stands for one group or more, h groups before it.
  const ipv6 = [
    `(?:${hex}:){7}${hex}`,
    `(?:${hex}:){6}${ipv4}`,
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((h) => `${exactly(h)}::${upTo(7 - h)}`),
    ...[0, 1, 2, 3, 4, 5].map((h) => `${exactly(h)}::${groupsBefore(5 - h)}${ipv4}`),
  ];
  const prefix4 = '(?:3[0-2]|[12]?[0-9])';
  const prefix6 = '(?:12[0-8]|1[01][0-9]|[1-9]?[0-9])';
  return `^(?:${ipv4}(?:/${prefix4})?|(?:${ipv6.join('|')})(?:/${prefix6})?)$`;
}

/** Canonical text: "10.0.0.0/8", "fd00::/64" (RFC 5952 for IPv6). */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.family === 4 ? cidr.bytes.join('.') : formatIPv6(cidr.bytes)}/${cidr.prefix}`;
}

/** True when the two ranges share at least one address (same family only). */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.prefix, b.prefix);
  const ma = mask(a.bytes, shorter);
  const mb = mask(b.bytes, shorter);
  return ma.every((byte, i) => byte === mb[i]);
}

/** The first invalid CIDR of a list (a flag's values), as a reason; undefined when all are valid. */
export function cidrListProblem(values: readonly string[]): string | undefined {
  for (const text of values) {
    const parsed = parseCidr(text);
    if (!parsed.ok) return parsed.reason;
  }
  return undefined;
}

/** The family whose every address the union of `cidrs` covers (e.g. 0.0.0.0/1 + 128.0.0.0/1 is all of IPv4), if any. */
export function familyCoveredBy(cidrs: readonly Cidr[]): 4 | 6 | undefined {
  for (const family of [4, 6] as const) {
    const union = mergeIntervals(cidrs.filter((c) => c.family === family).map(cidrRange), true);
    if (union.length === 1 && union[0]![0] === 0n && union[0]![1] === 1n << BigInt(family === 4 ? 32 : 128)) return family;
  }
  return undefined;
}

/** An address's bytes (network order) as one number: 10.0.0.1 is 167772161n. */
export function addressValue(bytes: readonly number[]): bigint {
  return bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
}

/** The addresses a CIDR holds, as the half-open interval [first, last + 1). */
export function cidrRange(cidr: Cidr): Interval<bigint> {
  const start = addressValue(cidr.bytes);
  return [start, start + (1n << BigInt(cidr.bytes.length * 8 - cidr.prefix))];
}

function fail(text: string, why: string): CidrResult {
  return { ok: false, reason: `"${text}" is not a valid IPv4 or IPv6 CIDR: ${why}` };
}

function mask(bytes: number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return byte & ((0xff << (8 - keep)) & 0xff);
  });
}

function parseIPv4(text: string): number[] | string {
  const parts = text.split('.');
  if (parts.length !== 4) return `an IPv4 address has 4 dot-separated octets, "${text}" has ${parts.length}`;
  const bytes: number[] = [];
  for (const part of parts) {
    // Leading zeros are refused: some tools read them as octal.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return `octet "${part}" is not a decimal number without leading zeros`;
    const n = Number(part);
    if (n > 255) return `octet ${n} is above 255`;
    bytes.push(n);
  }
  return bytes;
}

function parseIPv6(text: string): number[] | string {
  const halves = text.split('::');
  if (halves.length > 2) return '"::" may appear only once';
  // An embedded IPv4 address (::ffff:192.0.2.1) ends the address: the last part of the last half.
  const groups = (half: string | undefined, last: boolean): number[] | string => {
    if (!half) return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      if (last && i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (typeof v4 === 'string') return v4;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return `group "${part}" is not 1 to 4 hex digits`;
      }
    }
    return out;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = groups(halves[1], true);
  if (typeof head === 'string') return head;
  if (typeof tail === 'string') return tail;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return `an IPv6 address has 8 groups of 16 bits`;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

function formatIPv6(bytes: number[]): string {
  return ipv6Text(Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!));
}

/** Eight 16-bit groups in RFC 5952's short form: lowercase hex, no leading zeros, the longest run of two or more zero groups (the first on a tie) as "::". */
export function ipv6Text(groups: readonly number[]): string {
  let best = { start: -1, length: 1 };
  for (let i = 0; i < groups.length;) {
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j > i ? j : i + 1;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

// One parser for a conntrack table line in every format we read:
//   /proc/net/nf_conntrack, conntrack -L -o extended:
//     ipv4     2 tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… … [ASSURED] mark=0 zone=0 use=2
//   conntrack -L (no leading L3 fields):
//     tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… … [ASSURED] mark=0 use=1
// It runs over whole tables (hundreds of thousands of lines), so it walks the
// line once, finding token ends with indexOf and reading numbers in place, and
// slices only the strings it keeps: no regex, no split per line. Key names and
// the common protocol/state names are matched in place and shared, not sliced.
// Tokens are separated by spaces (both sources print no tabs).
import { ipv6Text } from '../policy/cidr.js';

interface ConntrackTuple {
  src: string;
  dst: string;
  sport: number | null;
  dport: number | null;
  /** Other key=value pairs of this direction as printed: type/code/id (icmp), packets/bytes (acct), srckey (gre), ... */
  extra: Record<string, string> | null;
}

interface ConntrackFlags {
  assured: boolean;
  unreplied: boolean;
  /** Any other [FLAG] (OFFLOAD, HW_OFFLOAD, ...), or null. */
  others: string[] | null;
}

export interface ConntrackEntry {
  /** ipv4 / ipv6; inferred from the address in the plain `conntrack -L` format, which omits it. */
  l3: string;
  /** tcp, udp, icmp, icmpv6, sctp, dccp, gre, udplite, unknown, ... */
  l4: string;
  l4num: number;
  /** Seconds left before the entry expires. */
  timeout: number;
  /** Protocol state (TCP, SCTP, DCCP), or null for stateless protocols. */
  state: string | null;
  orig: ConntrackTuple;
  reply: ConntrackTuple;
  flags: ConntrackFlags;
  mark: number | null;
  zone: number | null;
  /** Other entry-level key=value pairs (secctx, labels, helper, ...); `use` (a refcount) is dropped. */
  extra: Record<string, string> | null;
}

const SPACE = 32;
const EQUALS = 61;
const BRACKET = 91;
const CLOSE_BRACKET = 93;
const COLON = 58;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
// First two letters of the keys matched in place: src dst sport dport mark zone use.
const CH_S = 115;
const CH_R = 114;
const CH_D = 100;
const CH_P = 112;
const CH_M = 109;
const CH_A = 97;
const CH_Z = 122;
const CH_O = 111;
const CH_U = 117;

// Shared instances of the names seen on every line, so parsing does not allocate them.
const L4_NAMES = ['tcp', 'udp', 'icmp', 'icmpv6', 'unknown', 'sctp', 'gre', 'udplite', 'dccp'];
const HEAD_NAMES = ['ipv4', 'ipv6', ...L4_NAMES];
const STATES = ['ESTABLISHED', 'TIME_WAIT', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSE', 'NONE', 'LISTEN'];

/** Whether line has word at start (String#startsWith with a position is slow in the hot loop). */
function sameAt(line: string, start: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (line.charCodeAt(start + i) !== word.charCodeAt(i)) return false;
  return true;
}

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/**
 * Shorten a fully written IPv6 address as /proc prints it (0000:0000:…:0001, 8 groups
 * of 4 hex digits) to the RFC 5952 form conntrack -L prints (::1). Other text is returned as is.
 */
export function compressIpv6(addr: string): string {
  if (addr.length !== 39) return addr;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) {
    const value = parseInt(addr.slice(i * 5, i * 5 + 4), 16);
    if (Number.isNaN(value) || (i < 7 && addr.charCodeAt(i * 5 + 4) !== COLON)) return addr;
    groups.push(value);
  }
  return ipv6Text(groups);
}

/** End of the token starting at p: the next space, or the end of the line (indexOf is native: no per-char loop in JS). */
function tokenEnd(line: string, p: number, end: number): number {
  const e = line.indexOf(' ', p);
  return e < 0 || e > end ? end : e;
}

function skipSpaces(line: string, p: number): number {
  while (line.charCodeAt(p) === SPACE) p++;
  return p;
}

/** The decimal number in line[start, end), or -1 when it is not one. */
function uintIn(line: string, start: number, end: number): number {
  if (end === start) return -1;
  let n = 0;
  for (let p = start; p < end; p++) {
    const c = line.charCodeAt(p);
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
    n = n * 10 + (c - DIGIT_0);
  }
  return n;
}

/** line[start, end) as a shared instance when it is one of `known`, else a new string. */
function wordIn(line: string, start: number, end: number, known: string[]): string {
  const len = end - start;
  for (let i = 0; i < known.length; i++) {
    const k = known[i]!;
    if (k.length === len && sameAt(line, start, k)) return k;
  }
  return line.slice(start, end);
}

function hasEquals(line: string, start: number, end: number): boolean {
  const eq = line.indexOf('=', start);
  return eq >= 0 && eq < end;
}

function setFlag(flags: ConntrackFlags, name: string): void {
  if (name === 'ASSURED') flags.assured = true;
  else if (name === 'UNREPLIED') flags.unreplied = true;
  else (flags.others ??= []).push(name);
}

/**
 * The entry on a line, or null when it is not one. Use EntryParser to count the refusals.
 * start/end delimit the line inside a larger text (a chunk of the table), so the
 * caller need not slice each line out first.
 */
export function parseConntrackLine(line: string, start = 0, end = line.length): ConntrackEntry | null {
  // head: [l3 l3num] l4 l4num timeout [STATE]
  const n = end;
  let p = skipSpaces(line, start);
  let e = tokenEnd(line, p, n);
  const first = wordIn(line, p, e, HEAD_NAMES);
  p = skipSpaces(line, e);
  e = tokenEnd(line, p, n);
  const firstNum = uintIn(line, p, e);
  if (first === '' || firstNum < 0) return null;
  p = skipSpaces(line, e);
  e = tokenEnd(line, p, n);
  let l3 = '';
  let l4 = first;
  let l4num = firstNum;
  if (!isDigit(line.charCodeAt(p))) {
    // extended ("ipv4 2 tcp 6 431999 ..."): the first word was the L3 name
    l3 = first;
    l4 = wordIn(line, p, e, L4_NAMES);
    p = skipSpaces(line, e);
    e = tokenEnd(line, p, n);
    l4num = uintIn(line, p, e);
    p = skipSpaces(line, e);
    e = tokenEnd(line, p, n);
    if (l4num < 0) return null;
  }
  const timeout = uintIn(line, p, e);
  if (timeout < 0) return null;
  p = skipSpaces(line, e);
  let state: string | null = null;
  e = tokenEnd(line, p, n);
  if (p < e && line.charCodeAt(p) !== BRACKET && !hasEquals(line, p, e)) {
    state = wordIn(line, p, e, STATES);
    p = e;
  }

  const orig: ConntrackTuple = { src: '', dst: '', sport: null, dport: null, extra: null };
  const reply: ConntrackTuple = { src: '', dst: '', sport: null, dport: null, extra: null };
  const flags: ConntrackFlags = { assured: false, unreplied: false, others: null };
  const entry: ConntrackEntry = { l3, l4, l4num, timeout, state, orig, reply, flags, mark: null, zone: null, extra: null };
  let tuple = orig;
  // After the head, tokens are separated by single spaces; the loop finds token ends with
  // indexOf (addresses) or while reading digits (numbers), touching few characters in JS.
  while (p < n) {
    const c0 = line.charCodeAt(p);
    if (c0 === SPACE) {
      p++;
      continue;
    }
    if (c0 === BRACKET) {
      e = tokenEnd(line, p, n);
      setFlag(flags, line.slice(p + 1, line.charCodeAt(e - 1) === CLOSE_BRACKET ? e - 1 : e));
      p = e + 1;
      continue;
    }
    const c1 = line.charCodeAt(p + 1);
    const keyLen = line.charCodeAt(p + 3) === EQUALS ? 3 : line.charCodeAt(p + 4) === EQUALS ? 4 : line.charCodeAt(p + 5) === EQUALS ? 5 : 0;
    const v = p + keyLen + 1;
    if (keyLen === 3 && ((c0 === CH_S && c1 === CH_R) || (c0 === CH_D && c1 === CH_S))) {
      e = tokenEnd(line, v, n);
      if (c0 === CH_D) tuple.dst = line.slice(v, e);
      else {
        // the second src= starts the reply direction
        if (tuple.src !== '') {
          if (tuple === reply) return null;
          tuple = reply;
        }
        tuple.src = line.slice(v, e);
      }
    } else if (
      (keyLen === 5 && c1 === CH_P && (c0 === CH_S || c0 === CH_D)) ||
      (keyLen === 4 && ((c0 === CH_M && c1 === CH_A) || (c0 === CH_Z && c1 === CH_O))) ||
      (keyLen === 3 && c0 === CH_U && c1 === CH_S)
    ) {
      let num = 0;
      e = v;
      while (e < n) {
        const c = line.charCodeAt(e);
        if (c >= DIGIT_0 && c <= DIGIT_9) {
          num = num * 10 + (c - DIGIT_0);
          e++;
        } else break;
      }
      if (e === v || (e < n && line.charCodeAt(e) !== SPACE)) return null;
      if (c0 === CH_S) tuple.sport = num;
      else if (c0 === CH_D) tuple.dport = num;
      else if (c0 === CH_M) entry.mark = num;
      else if (c0 === CH_Z) entry.zone = num;
      // use= (a refcount) is dropped
    } else {
      e = tokenEnd(line, p, n);
      const eq = line.indexOf('=', p);
      if (eq < 0 || eq >= e) return null;
      // The kernel prints a direction's own keys (icmp type/code/id, acct packets/bytes) right after its
      // addresses, and entry-level ones (secctx, helper, ...) after mark=/zone=.
      const target = entry.mark === null && entry.zone === null ? (tuple.extra ??= {}) : (entry.extra ??= {});
      target[line.slice(p, eq)] = line.slice(eq + 1, e);
    }
    p = e + 1;
  }
  if (orig.src === '' || orig.dst === '' || reply.src === '') return null;
  if (l3 === '') entry.l3 = orig.src.includes(':') ? 'ipv6' : 'ipv4';
  if (entry.l3 === 'ipv6' && orig.src.length === 39) {
    // /proc prints every IPv6 group in full, conntrack -L the short form: report one form.
    orig.src = compressIpv6(orig.src);
    orig.dst = compressIpv6(orig.dst);
    reply.src = compressIpv6(reply.src);
    reply.dst = compressIpv6(reply.dst);
  }
  return entry;
}

/**
 * The longest line read as an entry. Real ones are a few hundred bytes (IPv6,
 * accounting, labels); a longer one is no entry, and a reader that kept
 * gluing chunks to it would copy it again for every chunk (quadratic).
 */
export const MAX_LINE_LENGTH = 4096;

/** Parses lines and counts what it parsed and what it refused (one per table read). */
export class EntryParser {
  /** Lines that were not a conntrack entry (parse returned null, or longer than MAX_LINE_LENGTH). */
  malformed = 0;
  parsed = 0;

  parse(line: string, start = 0, end = line.length): ConntrackEntry | null {
    const entry = end - start > MAX_LINE_LENGTH ? null : parseConntrackLine(line, start, end);
    if (entry === null) this.malformed++;
    else this.parsed++;
    return entry;
  }

  /** A line dropped unread because it ran past MAX_LINE_LENGTH. */
  tooLong(): void {
    this.malformed++;
  }
}

// Fuzz: the parsers of what the kernel's tools print — conntrack table lines,
// iptables-save, nft list table. Generated input whose every field is known
// (written out here, not by the code under test) must come back field for
// field, and exactly the lines made malformed must be counted as such;
// mutated captures never throw nor take long, parse as a small reference
// reading says, and removing our rules from a mutated iptables-save names no
// chain that is not ours (a chain of ours carries our marker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EntryParser, type ConntrackEntry } from '../../src/kernel/entry-parser.js';
import { buildRestore, ownedView, parseIptablesSave } from '../../src/kernel/notrack/iptables-state.js';
import { OWNED_CHAINS, markerLine } from '../../src/kernel/notrack/render-iptables.js';
import { nftTableIsOurs, parseNftTable } from '../../src/kernel/notrack/render-nft.js';
import { seededRandom } from '../support/seeded-random.js';
import { cases } from './seeded.js';

const fixture = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const COUNT = 400;
const BOUND_MS = 500;

function timed<T>(seed: number, fn: () => T): T {
  const started = performance.now();
  const out = fn();
  assert.ok(performance.now() - started < BOUND_MS, `seed ${seed}: over ${BOUND_MS} ms`);
  return out;
}

type Random = () => number;
const pick = <T>(random: Random, from: readonly T[]): T => from[Math.floor(random() * from.length)]!;
const int = (random: Random, below: number) => Math.floor(random() * below);

/** The fields of a generated entry, as the parser must report them. */
interface Known {
  l3: string;
  l4: string;
  l4num: number;
  timeout: number;
  state: string | null;
  orig: { src: string; dst: string; sport: number | null; dport: number | null };
  reply: { src: string; dst: string; sport: number | null; dport: number | null };
  assured: boolean;
  unreplied: boolean;
  mark: number | null;
  zone: number | null;
}

function knownOf(e: ConntrackEntry): Known {
  const tuple = (t: ConntrackEntry['orig']) => ({ src: t.src, dst: t.dst, sport: t.sport, dport: t.dport });
  return {
    l3: e.l3,
    l4: e.l4,
    l4num: e.l4num,
    timeout: e.timeout,
    state: e.state,
    orig: tuple(e.orig),
    reply: tuple(e.reply),
    assured: e.flags.assured,
    unreplied: e.flags.unreplied,
    mark: e.mark,
    zone: e.zone,
  };
}

// IPv6 as /proc prints it (every group in full) and as the parser must report it (RFC 5952), written out by hand.
const IPV6 = [
  ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
  ['fd00:0000:0000:0000:0000:0000:0000:000a', 'fd00::a'],
  ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
  ['fe80:0000:0000:0000:0a00:27ff:fe4e:66a1', 'fe80::a00:27ff:fe4e:66a1'],
  ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2:3:4:5:6'],
] as const;
const TCP_STATES = ['ESTABLISHED', 'TIME_WAIT', 'SYN_SENT', 'SYN_RECV', 'CLOSE_WAIT', 'CLOSE'];
type Format = 'proc' | 'extended' | 'plain';

/** One random entry: the line a kernel tool prints for it, and its fields. */
function generatedEntry(random: Random): { line: string; known: Known } {
  const format = pick<Format>(random, ['proc', 'extended', 'plain']);
  const v6 = random() < 0.4;
  const address = (): [printed: string, reported: string] => {
    if (!v6) {
      const a = `10.${int(random, 256)}.${int(random, 256)}.${int(random, 256)}`;
      return [a, a];
    }
    const [full, short] = pick(random, IPV6);
    return [format === 'proc' ? full : short, short];
  };
  const [l4, l4num] = pick(random, [['tcp', 6], ['udp', 17], v6 ? ['icmpv6', 58] : ['icmp', 1]] as const);
  const timeout = int(random, 432_001);
  const state = l4 === 'tcp' ? pick(random, TCP_STATES) : null;
  const [src, srcShown] = address();
  const [dst, dstShown] = address();
  const ports = l4 === 'tcp' || l4 === 'udp';
  const sport = ports ? 1 + int(random, 65_535) : null;
  const dport = ports ? 1 + int(random, 65_535) : null;
  const unreplied = random() < 0.3;
  const assured = !unreplied && random() < 0.5;
  const mark = int(random, 2) === 0 ? 0 : int(random, 2 ** 32);
  const zone = format === 'proc' ? int(random, 3) : null;
  const l4fields = (s: number | null, d: number | null, icmpType: number) =>
    ports ? `sport=${s} dport=${d}` : `type=${icmpType} code=0 id=${int(random, 65_536)}`;
  const head = [
    format === 'plain' ? '' : `${(v6 ? 'ipv6' : 'ipv4').padEnd(8)} ${v6 ? 10 : 2} `,
    `${l4.padEnd(8)} ${l4num} ${timeout} `,
    state === null ? '' : `${state} `,
  ].join('');
  const line = [
    `${head}src=${src} dst=${dst} ${l4fields(sport, dport, 8)}`,
    unreplied ? ' [UNREPLIED]' : '',
    ` src=${dst} dst=${src} ${l4fields(dport, sport, 0)}`,
    assured ? ' [ASSURED]' : '',
    ` mark=${mark}`,
    zone === null ? '' : ` zone=${zone}`,
    ` use=${1 + int(random, 4)}`,
  ].join('');
  const known: Known = {
    l3: v6 ? 'ipv6' : 'ipv4',
    l4,
    l4num,
    timeout,
    state,
    orig: { src: srcShown, dst: dstShown, sport, dport },
    reply: { src: dstShown, dst: srcShown, sport: dport, dport: sport },
    assured,
    unreplied,
    mark,
    zone,
  };
  return { line, known };
}

// Each makes a good line into one the parser must refuse.
const BREAKERS: ReadonlyArray<[string, (line: string) => string]> = [
  ['timeout not a number', (l) => l.replace(/ (\d+) (?=[A-Z]|src=)/, ' 1x2 ')],
  ['no reply direction', (l) => l.slice(0, l.lastIndexOf(' src='))],
  ['a third direction', (l) => l.replace(' mark=', ' src=10.0.0.1 dst=10.0.0.2 mark=')],
  ['a port with a letter', (l) => (l.includes('sport=') ? l.replace(/sport=(\d+)/, 'sport=$1a') : l.replace(' mark=', ' sport=7a mark='))],
  ['a word that is no key=value', (l) => l.replace(' mark=', ' garbage mark=')],
  ['the head alone', (l) => l.slice(0, l.indexOf(' src='))],
  ['longer than a real line', (l) => `${l} secctx=${'x'.repeat(5000)}`],
  ['no protocol number', () => 'ipv4'],
];

test(`conntrack table lines: ${COUNT} generated tables come back field for field, and exactly the lines broken are counted malformed`, () => {
  for (let seed = 1; seed <= COUNT; seed++) {
    const random = seededRandom(seed);
    const lines: string[] = [];
    const expected: Array<Known | null> = [];
    let broken = 0;
    for (let i = 1 + int(random, 40); i > 0; i--) {
      const { line, known } = generatedEntry(random);
      if (random() < 0.2) {
        const [why, breaker] = pick(random, BREAKERS);
        const bad = breaker(line);
        assert.notEqual(bad, line, `seed ${seed}: ${why} left the line as it was`);
        lines.push(bad);
        expected.push(null);
        broken++;
      } else {
        lines.push(line);
        expected.push(known);
      }
    }
    const parser = new EntryParser();
    const entries = timed(seed, () => lines.map((l) => parser.parse(l)));
    entries.forEach((e, i) => assert.deepEqual(e && knownOf(e), expected[i], `seed ${seed}, line ${i}: ${lines[i]!.slice(0, 300)}`));
    assert.equal(parser.malformed, broken, `seed ${seed}`);
    assert.equal(parser.parsed, lines.length - broken, `seed ${seed}`);
  }
});

// What a line of the captures says, read by a regular expression instead of the parser.
const HEAD = /^(?:ipv[46] +\d+ +)?([a-z0-9]+) +(\d+) +(\d+) (?:([A-Z_]+) )?src=(\S+) dst=(\S+) /;

test(`conntrack table lines: ${COUNT} mutated captures; every line left whole reads as the captures say`, () => {
  const seeds = [fixture('fixtures/with-table/proc/self/net/nf_conntrack'), fixture('fixtures/with-table/conntrack-L-extended.txt')];
  const whole = new Set(seeds.flatMap((s) => s.split('\n')).filter((l) => l !== ''));
  let checked = 0;
  for (const { seed, input } of cases(seeds, COUNT, 7000)) {
    const parser = new EntryParser();
    const lines = input.split('\n').filter((l) => l !== '');
    const entries = timed(seed, () => lines.map((l) => parser.parse(l)));
    lines.forEach((line, i) => {
      if (!whole.has(line)) return;
      const [, l4, l4num, timeout, state, src, dst] = HEAD.exec(line)!;
      const e = entries[i];
      assert.ok(e, `seed ${seed}: an unmutated capture line was refused: ${line}`);
      assert.deepEqual([e.l4, e.l4num, e.timeout, e.state], [l4, Number(l4num), Number(timeout), state ?? null], `seed ${seed}: ${line}`);
      // /proc's full IPv6 form is reported short (checked on generated lines above).
      if (!src!.includes(':')) assert.deepEqual([e.orig.src, e.orig.dst], [src, dst], `seed ${seed}: ${line}`);
      checked++;
    });
  }
  assert.ok(checked > COUNT * 10, `only ${checked} unmutated lines checked`);
});

test(`iptables-save: ${COUNT} mutated captures; removing ours never names a chain without our marker`, () => {
  const seeds = ['iptables-nft-save.synced.txt', 'iptables-legacy-save.drifted.txt', 'ip6tables-nft-save.synced.txt', 'iptables-legacy-save.kubelet.txt'].map(
    (f) => fixture(`notrack/fixtures/${f}`),
  );
  const owned = new Set(OWNED_CHAINS.map((c) => c.name));
  for (const { seed, input } of cases(seeds, COUNT, 9000)) {
    const saved = timed(seed, () => parseIptablesSave(input));
    const ours = new Set(OWNED_CHAINS.filter((c) => saved.get(c.table)?.rules.get(c.name)?.includes(markerLine(c.name))).map((c) => c.name));
    const restore = timed(seed, () => buildRestore(ownedView(saved).saved, new Map()));
    for (const line of restore.split('\n')) {
      const named = /^(?::|-X |-A |-I |-D )(\S+)/.exec(line)?.[1];
      if (named === undefined || !owned.has(named)) continue;
      assert.ok(ours.has(named), `seed ${seed}: restore names ${named}, which carries no marker:\n${restore}`);
    }
  }
});

const OWNER_COMMENT = 'comment "conntrack-operator"';

/**
 * `nft list table` read the simple way: "chain: statement" for each non-empty line after a
 * `chain NAME {` line and before the next `}` line; ours when a line at the table's own
 * level (one `{` deep) is our comment.
 */
function nftReference(text: string): { lines: string[]; ours: boolean } {
  const lines: string[] = [];
  let chain: string | undefined;
  let depth = 0;
  let ours = false;
  for (const line of text.split('\n').map((l) => l.trim())) {
    const words = line.split(' ');
    if (line.endsWith('{')) depth++;
    else if (line === '}') depth--;
    else if (depth === 1 && line === OWNER_COMMENT) ours = true;
    if (words.length === 3 && words[0] === 'chain' && words[2] === '{' && words[1] !== '' && !/\s/.test(words[1]!)) chain = words[1];
    else if (line === '}') chain = undefined;
    else if (chain !== undefined && line !== '') lines.push(`${chain}: ${line}`);
  }
  return { lines, ours };
}

const NFT_STATEMENTS = [
  'type filter hook prerouting priority raw; policy accept;',
  'iifname "lo" notrack comment "loopback"',
  'tcp dport { 80, 443 } notrack',
  'ip6 saddr fd00::10 udp sport 53 notrack comment "dns-out"',
  'counter',
];

test(`nft list table: ${COUNT} generated tables give back their chains' statements in order, and ours only when the table carries our comment`, () => {
  for (let seed = 1; seed <= COUNT; seed++) {
    const random = seededRandom(seed);
    const indent = (depth: number) => pick(random, ['\t', '  ']).repeat(depth);
    const ours = random() < 0.5;
    const text: string[] = [`table inet ${pick(random, ['conntrack_operator', 'user'])} {`];
    const expected: string[] = [];
    if (ours) text.push(`${indent(1)}${OWNER_COMMENT}`);
    for (let c = int(random, 4); c > 0; c--) {
      const chain = `chain-${c}`;
      text.push(`${indent(1)}chain ${chain} {`);
      for (let s = int(random, 5); s > 0; s--) {
        const statement = random() < 0.1 ? OWNER_COMMENT : pick(random, NFT_STATEMENTS);
        text.push(`${indent(2)}${statement}`);
        expected.push(`${chain}: ${statement}`);
        if (random() < 0.2) text.push('');
      }
      text.push(`${indent(1)}}`);
    }
    text.push('}');
    const input = text.join('\n');
    assert.deepEqual(parseNftTable(input), expected, `seed ${seed}:\n${input}`);
    assert.equal(nftTableIsOurs(input), ours, `seed ${seed}:\n${input}`);
  }
});

test(`nft list table: ${COUNT} mutated captures read as the reference reading says`, () => {
  const seeds = ['nft-list-table.synced.txt', 'nft-list-table.drifted.txt', 'nft-list-ruleset.synced.txt'].map((f) => fixture(`notrack/fixtures/${f}`));
  let statements = 0;
  for (const { seed, input } of cases(seeds, COUNT, 11000)) {
    const reference = nftReference(input);
    assert.deepEqual(
      timed(seed, () => parseNftTable(input)),
      reference.lines,
      `seed ${seed}:\n${input}`,
    );
    assert.equal(
      timed(seed, () => nftTableIsOurs(input)),
      reference.ours,
      `seed ${seed}:\n${input}`,
    );
    statements += reference.lines.length;
  }
  assert.ok(statements > COUNT * 5, `only ${statements} statements compared`);
});

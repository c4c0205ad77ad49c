import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryParser, compressIpv6, parseConntrackLine, type ConntrackEntry } from '../../src/kernel/entry-parser.js';
import { fixtureText } from '../support/fixture-tree.js';

const tuple = (src: string, dst: string, sport: number | null, dport: number | null, extra: Record<string, string> | null = null) => ({
  src,
  dst,
  sport,
  dport,
  extra,
});

// Lines copied from test/fixtures/with-table (a namespace filled on kernel 6.18).
const cases: Array<{ name: string; line: string; want: Partial<ConntrackEntry> }> = [
  {
    name: '/proc: udp unreplied',
    line: 'ipv4     2 udp      17 2997 src=127.0.0.1 dst=127.1.0.2 sport=43976 dport=9 [UNREPLIED] src=127.1.0.2 dst=127.0.0.1 sport=9 dport=43976 mark=0 zone=0 use=2',
    want: {
      l3: 'ipv4',
      l4: 'udp',
      l4num: 17,
      timeout: 2997,
      state: null,
      orig: tuple('127.0.0.1', '127.1.0.2', 43976, 9),
      reply: tuple('127.1.0.2', '127.0.0.1', 9, 43976),
      flags: { assured: false, unreplied: true, others: null },
      mark: 0,
      zone: 0,
    },
  },
  {
    name: 'extended: tcp established assured',
    line: 'ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=36156 dport=45065 src=127.0.0.1 dst=127.0.0.1 sport=45065 dport=36156 [ASSURED] mark=0 use=1',
    want: {
      l3: 'ipv4',
      l4: 'tcp',
      l4num: 6,
      timeout: 431999,
      state: 'ESTABLISHED',
      flags: { assured: true, unreplied: false, others: null },
      mark: 0,
      zone: null,
    },
  },
  {
    name: 'plain conntrack -L: tcp time_wait, l3 inferred',
    line: 'tcp      6 2998 TIME_WAIT src=127.0.0.1 dst=127.2.0.2 sport=33692 dport=44163 src=127.2.0.2 dst=127.0.0.1 sport=44163 dport=33692 [ASSURED] mark=0 use=1',
    want: { l3: 'ipv4', l4: 'tcp', l4num: 6, timeout: 2998, state: 'TIME_WAIT', orig: tuple('127.0.0.1', '127.2.0.2', 33692, 44163) },
  },
  {
    name: 'plain conntrack -L: ipv6 inferred',
    line: 'udp      17 2998 src=::1 dst=::1 sport=42608 dport=49277 src=::1 dst=::1 sport=49277 dport=42608 mark=0 use=1',
    want: { l3: 'ipv6', l4: 'udp', state: null, orig: tuple('::1', '::1', 42608, 49277) },
  },
  {
    name: '/proc: ipv6 printed in full is shortened',
    line: 'ipv6     10 tcp      6 2999 TIME_WAIT src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=59268 dport=37741 src=0000:0000:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=37741 dport=59268 [ASSURED] mark=0 zone=0 use=2',
    want: { l3: 'ipv6', orig: tuple('::1', '::1', 59268, 37741), reply: tuple('::1', '::1', 37741, 59268) },
  },
  {
    name: 'icmp: type/code/id kept per direction',
    line: 'ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=1 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=1 mark=0 zone=0 use=2',
    want: {
      l4: 'icmp',
      l4num: 1,
      timeout: 29,
      state: null,
      orig: tuple('127.0.0.1', '127.0.0.1', null, null, { type: '8', code: '0', id: '1' }),
      reply: tuple('127.0.0.1', '127.0.0.1', null, null, { type: '0', code: '0', id: '1' }),
    },
  },
  {
    name: 'icmpv6 over conntrack -L',
    line: 'icmpv6   58 29 src=::1 dst=::1 type=128 code=0 id=1 src=::1 dst=::1 type=129 code=0 id=1 mark=0 use=1',
    want: { l3: 'ipv6', l4: 'icmpv6', l4num: 58, orig: tuple('::1', '::1', null, null, { type: '128', code: '0', id: '1' }) },
  },
  {
    name: 'unknown protocol: no ports',
    line: 'ipv4     2 unknown  253 599 src=127.0.0.1 dst=127.0.0.9 [UNREPLIED] src=127.0.0.9 dst=127.0.0.1 mark=0 zone=0 use=2',
    want: {
      l4: 'unknown',
      l4num: 253,
      timeout: 599,
      orig: tuple('127.0.0.1', '127.0.0.9', null, null),
      flags: { assured: false, unreplied: true, others: null },
    },
  },
  {
    // Hand-edited from the udp line above: accounting on (packets/bytes) and an offload flag, as newer kernels print them.
    name: 'acct keys and other flags',
    line: 'ipv4     2 udp      17 29 src=10.0.0.1 dst=10.0.0.2 sport=53 dport=5353 packets=3 bytes=180 src=10.0.0.2 dst=10.0.0.1 sport=5353 dport=53 packets=1 bytes=60 [OFFLOAD] mark=7 secctx=system_u:object_r:unlabeled_t:s0 zone=3 use=2',
    want: {
      orig: tuple('10.0.0.1', '10.0.0.2', 53, 5353, { packets: '3', bytes: '180' }),
      reply: tuple('10.0.0.2', '10.0.0.1', 5353, 53, { packets: '1', bytes: '60' }),
      flags: { assured: false, unreplied: false, others: ['OFFLOAD'] },
      mark: 7,
      zone: 3,
      extra: { secctx: 'system_u:object_r:unlabeled_t:s0' },
    },
  },
];

for (const c of cases) {
  test(`parse: ${c.name}`, () => {
    const got = parseConntrackLine(c.line);
    assert.ok(got, 'parsed');
    for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof ConntrackEntry], v, k);
  });
}

const malformed = [
  ['empty', ''],
  ['conntrack summary line', 'conntrack v1.4.7 (conntrack-tools): 23 flow entries have been shown.'],
  ['no tuple', 'ipv4     2 udp      17 2997'],
  ['port not a number', 'udp 17 29 src=127.0.0.1 dst=127.0.0.2 sport=x dport=9 src=127.0.0.2 dst=127.0.0.1 sport=9 dport=1'],
  ['timeout not a number', 'udp 17 soon src=127.0.0.1 dst=127.0.0.2 src=127.0.0.2 dst=127.0.0.1'],
  ['no reply direction', 'udp 17 29 src=127.0.0.1 dst=127.0.0.2 sport=1 dport=9'],
  ['three directions', 'udp 17 29 src=1.1.1.1 dst=2.2.2.2 src=2.2.2.2 dst=1.1.1.1 src=3.3.3.3 dst=1.1.1.1'],
  ['bare word among keys', 'udp 17 29 src=127.0.0.1 dst=127.0.0.2 garbage src=127.0.0.2 dst=127.0.0.1'],
];

test('malformed lines: null, and counted by EntryParser', () => {
  const parser = new EntryParser();
  for (const [name, line] of malformed) assert.equal(parser.parse(line!), null, name);
  assert.equal(parser.malformed, malformed.length);
  assert.equal(parser.parsed, 0);
});

test('the three captured formats of the same table parse to the same entries', () => {
  const lines = (f: string) =>
    fixtureText('with-table', f)
      .split('\n')
      .filter((l) => l !== '');
  const file = lines('proc/self/net/nf_conntrack');
  const extended = lines('conntrack-L-extended.txt');
  const plain = lines('conntrack-L.txt');
  assert.equal(file.length, 23);
  const parser = new EntryParser();
  for (let i = 0; i < file.length; i++) {
    const [a, b, c] = [file[i]!, extended[i]!, plain[i]!].map((l) => parser.parse(l));
    // Only the file prints zone=; conntrack omits zone 0.
    assert.deepEqual({ ...a, zone: null }, b, `line ${i + 1}: file vs extended`);
    assert.deepEqual(b, c, `line ${i + 1}: extended vs plain`);
  }
  assert.equal(parser.malformed, 0);
});

test('a line inside a larger text, given by offsets, parses as the line alone', () => {
  const text = fixtureText('with-table', 'proc/self/net/nf_conntrack');
  let start = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
    assert.deepEqual(parseConntrackLine(text, start, nl), parseConntrackLine(text.slice(start, nl)), `offset ${start}`);
    start = nl + 1;
  }
  // A line cut inside its last number is still a whole line to the parser: it must not read past end.
  const line = 'udp 17 29 src=127.0.0.1 dst=127.0.0.2 sport=1 dport=9 src=127.0.0.2 dst=127.0.0.1 sport=9 dport=12345';
  assert.equal(parseConntrackLine(line, 0, line.length - 3)!.reply.dport, 12);
});

test('compressIpv6 follows RFC 5952', () => {
  for (const [full, short] of [
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['fe80:0000:0000:0000:0202:b3ff:fe1e:8329', 'fe80::202:b3ff:fe1e:8329'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:0db8:0001:0002:0003:0004:0005:0006', '2001:db8:1:2:3:4:5:6'],
    ['2001:0db8:0000:0001:0001:0001:0001:0001', '2001:db8:0:1:1:1:1:1'],
    ['::1', '::1'],
  ])
    assert.equal(compressIpv6(full!), short, full);
});

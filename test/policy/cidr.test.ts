import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressValue,
  cidrListProblem,
  cidrPattern,
  cidrRange,
  cidrsOverlap,
  familyCoveredBy,
  formatCidr,
  ipv6Text,
  parseCidr,
  type Cidr,
} from '../../src/policy/cidr.js';
import { seededRandom } from '../support/seeded-random.js';

function cidr(text: string): Cidr {
  const result = parseCidr(text);
  assert.ok(result.ok, `${text}: ${result.ok ? '' : result.reason}`);
  return result.cidr;
}

describe('parseCidr + formatCidr: canonical form', () => {
  const cases: Array<[string, string]> = [
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.3/8', '10.0.0.0/8'], // host bits cleared
    ['192.168.1.7', '192.168.1.7/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['255.255.255.255/32', '255.255.255.255/32'],
    ['10.96.0.0/12', '10.96.0.0/12'],
    ['FD00:0:0:0::/64', 'fd00::/64'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1/128'], // the first of equal zero runs
    ['2001:0db8:0000:0000:0000:0000:0000:0001/128', '2001:db8::1/128'],
    ['::1', '::1/128'],
    ['::', '::/128'],
    ['::/0', '::/0'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8/128'],
    ['1::', '1::/128'],
    ['::ffff:10.0.0.1', '::ffff:a00:1/128'],
    ['fd00::1/120', 'fd00::/120'],
    ['2001:db8::/33', '2001:db8::/33'],
    ['2001:db8:ffff::/33', '2001:db8:8000::/33'],
  ];
  for (const [input, canonical] of cases) it(`${input} -> ${canonical}`, () => assert.equal(formatCidr(cidr(input)), canonical));

  const invalid: Array<[string, string]> = [
    ['10.0.0.256', 'octet 256 is above 255'],
    ['10.0.0/8', '4 dot-separated octets'],
    ['10.0.0.01/8', 'without leading zeros'],
    ['10.0.0.0/33', 'longer than 32 bits'],
    ['10.0.0.0/', 'prefix "" is not a number'],
    ['10.0.0.0/08', 'prefix "08" is not a number'],
    ['10.0.0.0/8/9', 'more than one "/"'],
    ['fd00::/129', 'longer than 128 bits'],
    ['fd00:::1', 'group "" is not 1 to 4 hex digits'],
    ['1::2::3', '"::" may appear only once'],
    ['1:2:3:4:5:6:7', '8 groups'],
    ['1:2:3:4:5:6:7:8:9', '8 groups'],
    ['1:2:3:4::5:6:7:8', '8 groups'],
    ['12345::', 'group "12345"'],
    ['::ffff:10.0.0.300', 'octet 300'],
    // An embedded IPv4 address ends an IPv6 address; before "::" it is not one.
    ['10.0.0.1::', 'group "10.0.0.1"'],
    ['::10.0.0.1:1', 'group "10.0.0.1"'],
  ];
  for (const [input, reason] of invalid) {
    it(`${input} is refused: ${reason}`, () => {
      const result = parseCidr(input);
      assert.ok(!result.ok && result.reason.includes(reason) && result.reason.includes(input), JSON.stringify(result));
    });
  }
});

describe('cidrsOverlap', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.0.0.0/8', '10.96.0.0/12', true],
    ['10.96.0.0/12', '10.0.0.0/8', true],
    ['10.96.0.0/12', '10.112.0.0/12', false],
    ['10.96.0.1', '10.96.0.0/12', true],
    ['192.168.0.0/16', '10.0.0.0/8', false],
    ['0.0.0.0/0', '10.244.0.0/16', true],
    ['fd00::/8', 'fd00:10:96::/112', true],
    ['fd00:10:96::/112', 'fd00:10:97::/112', false],
    ['::/0', '2001:db8::/32', true],
    ['10.0.0.0/8', '::ffff:10.0.0.0/104', false], // different families never overlap
  ];
  for (const [a, b, overlap] of cases) it(`${a} ~ ${b}: ${overlap}`, () => assert.equal(cidrsOverlap(cidr(a), cidr(b)), overlap));
});

describe('cidrListProblem: the first invalid CIDR of a flag, as a reason', () => {
  const cases: Array<{ values: string[]; problem?: RegExp }> = [
    { values: [] },
    { values: ['10.96.0.0/12', 'fd00:10:96::/112'] },
    { values: ['10.96.0.0/12', '10.96.0.0/33'], problem: /"10.96.0.0\/33" is not a valid IPv4 or IPv6 CIDR: prefix \/33/ },
    { values: ['banana'], problem: /"banana"/ },
    { values: ['010.0.0.0/8'], problem: /leading zeros/ },
  ];
  for (const c of cases) {
    it(JSON.stringify(c.values), () => {
      const problem = cidrListProblem(c.values);
      if (!c.problem) return assert.equal(problem, undefined);
      assert.match(problem ?? '', c.problem);
    });
  }
});

describe('familyCoveredBy: unions that are a whole IP family', () => {
  const parsed = (list: string[]): Cidr[] =>
    list.map((t) => {
      const r = parseCidr(t);
      assert.ok(r.ok, t);
      return r.cidr;
    });
  const cases: Array<{ cidrs: string[]; family: 4 | 6 | undefined }> = [
    { cidrs: ['0.0.0.0/0'], family: 4 },
    { cidrs: ['0.0.0.0/1', '128.0.0.0/1'], family: 4 },
    { cidrs: ['128.0.0.0/1', '0.0.0.0/2', '64.0.0.0/2', '10.0.0.0/8'], family: 4 },
    { cidrs: ['0.0.0.0/1', '128.0.0.0/2'], family: undefined },
    { cidrs: ['0.0.0.0/1', '192.0.0.0/2'], family: undefined },
    { cidrs: ['::/0'], family: 6 },
    { cidrs: ['::/1', '8000::/1'], family: 6 },
    { cidrs: ['::/1', '0.0.0.0/1'], family: undefined },
    { cidrs: [], family: undefined },
  ];
  for (const c of cases) it(c.cidrs.join(' + ') || '(none)', () => assert.equal(familyCoveredBy(parsed(c.cidrs)), c.family));
});

describe('cidrPattern: the regular expression of what parseCidr accepts (the chart schema carries it)', () => {
  const pattern = new RegExp(cidrPattern());
  const agree = (text: string) => assert.equal(pattern.test(text), parseCidr(text).ok, `${JSON.stringify(text)}: pattern and parser disagree`);

  it('on the table above and the edges of each part', () => {
    const forms = [
      ...['10.0.0.0/8', '10.0.0.256', '10.0.0.01/8', '10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '10.0.0.0/8/9', '1.2.3.4/32', '1.2.3.4/0', '0.0.0.0'],
      ...['255.255.255.255', '249.250.199.100/29', '1.2.3', '1.2.3.4.5', '1..2.3', ' 10.0.0.0/8', '10.0.0.0/8 ', '10.0.0.0/+8', '10.0.0.0/-8'],
      ...[
        '::',
        '::/0',
        '::/128',
        '::/129',
        ':::',
        '::1',
        '1::',
        ':1::',
        '::1:',
        '1:2:3:4:5:6:7:8',
        '1:2:3:4:5:6:7:8/0',
        '1:2:3:4:5:6:7:8::',
        '::1:2:3:4:5:6:7',
      ],
      ...['1:2:3:4:5:6:7::', '1::2:3:4:5:6:7', '1::2:3:4:5:6:7:8', '1:2:3:4:5:6:7', 'fd00::/119', 'fd00::/120', 'FD00::/64', 'fd00:0db8::', '12345::', 'g::'],
      ...['::ffff:1.2.3.4', '::1.2.3.4', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5::1.2.3.4', '1:2:3:4:5:6::1.2.3.4', '1.2.3.4::', '::1.2.3.4:1', '::ffff:1.2.3.4/96'],
      ...['', '/', '/8', 'banana', '10.0.0.0/8,10.1.0.0/16'],
    ];
    for (const form of forms) agree(form);
  });

  it('on 20,000 seeded random strings of address characters', () => {
    const random = seededRandom(19);
    const alphabet = ['0', '1', '2', '5', '9', 'a', 'F', ':', ':', '::', '.', '.', '/', '255', '256', 'ffff', '10000', '12', '3'];
    let accepted = 0;
    for (let n = 0; n < 20_000; n++) {
      const length = 1 + Math.floor(random() * 16);
      const text = Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      agree(text);
      if (parseCidr(text).ok) accepted++;
    }
    assert.ok(accepted > 200, `only ${accepted} random strings were CIDRs: the comparison saw too few accepted ones`);
  });
});

describe('ipv6Text: RFC 5952 short form', () => {
  const cases: Array<[number[], string]> = [
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0xfd00, 0, 0, 0, 0, 0, 0, 0], 'fd00::'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'], // the first of two equal runs
    [[0x2001, 0xdb8, 0, 1, 0, 0, 0, 1], '2001:db8:0:1::1'], // the longer run, not the first
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'], // one zero group stays
    [[0xabcd, 0x0f, 0xf00, 0, 0, 0, 0, 0xffff], 'abcd:f:f00::ffff'], // lowercase, no leading zeros
  ];
  for (const [groups, want] of cases) it(want, () => assert.equal(ipv6Text(groups), want));
});

describe('addressValue and cidrRange', () => {
  const values: Array<[string, bigint]> = [
    ['0.0.0.0', 0n],
    ['10.0.0.1', 167772161n],
    ['255.255.255.255', 4294967295n],
    ['::1', 1n],
    ['1::', 1n << 112n],
  ];
  for (const [text, want] of values) it(`value of ${text}`, () => assert.equal(addressValue(cidr(text).bytes), want));

  const ranges: Array<[string, bigint, bigint]> = [
    ['10.0.0.0/8', 167772160n, 184549376n],
    ['192.168.1.7', 3232235783n, 3232235784n],
    ['0.0.0.0/0', 0n, 4294967296n],
    ['fd00::/8', 0xfdn << 120n, 0xfen << 120n],
    ['::/0', 0n, 1n << 128n],
  ];
  for (const [text, lo, hi] of ranges) it(`range of ${text}`, () => assert.deepEqual(cidrRange(cidr(text)), [lo, hi]));
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressSet,
  EVERY_PACKET,
  interfacesMeet,
  intersect,
  overlap,
  portSet,
  subtract,
  type InterfaceSet,
  type Intervals,
} from '../../../src/reconcile/nat/packet-space.js';

describe('intervals', () => {
  const cases: Array<{ a: Intervals<number>; b: Intervals<number>; and: Intervals<number>; minus: Intervals<number> }> = [
    { a: [[0, 10]], b: [[5, 20]], and: [[5, 10]], minus: [[0, 5]] },
    { a: [[0, 10]], b: [[10, 20]], and: [], minus: [[0, 10]] },
    {
      a: [[0, 100]],
      b: [
        [10, 20],
        [30, 40],
      ],
      and: [
        [10, 20],
        [30, 40],
      ],
      minus: [
        [0, 10],
        [20, 30],
        [40, 100],
      ],
    },
    {
      a: [
        [0, 5],
        [10, 15],
      ],
      b: [[3, 12]],
      and: [
        [3, 5],
        [10, 12],
      ],
      minus: [
        [0, 3],
        [12, 15],
      ],
    },
    { a: [[5, 6]], b: [[0, 100]], and: [[5, 6]], minus: [] },
    { a: [], b: [[0, 1]], and: [], minus: [] },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.a)} and ${JSON.stringify(c.b)}`, () => {
      assert.deepEqual(intersect(c.a, c.b), c.and);
      assert.deepEqual(subtract(c.a, c.b), c.minus);
    });
  }
  it('addresses: CIDRs, bare addresses and ranges, by family; unreadable is null', () => {
    assert.deepEqual(addressSet(['10.0.0.0/31', '10.0.0.5', '10.0.0.2-10.0.0.3', '::1']), {
      ipv4: [
        [0x0a000000, 0x0a000004],
        [0x0a000005, 0x0a000006],
      ],
      ipv6: [[1n, 2n]],
    });
    assert.equal(addressSet(['10.0.0.0/33']), null);
  });
  it('ports are inclusive ranges', () =>
    assert.deepEqual(
      portSet([
        { from: 80, to: 80 },
        { from: 81, to: 90 },
      ]),
      [[80, 91]],
    ));
});

describe('interfaces', () => {
  const n = (name: string) => (name.endsWith('+') ? { name: name.slice(0, -1), prefix: true } : { name, prefix: false });
  const set = (unions: string[][], excluded: string[] = []): InterfaceSet => ({ unions: unions.map((u) => u.map(n)), excluded: excluded.map(n) });
  const cases: Array<[string, InterfaceSet, boolean]> = [
    ['anything', set([]), true],
    ['lo and lo', set([['lo'], ['lo']]), true],
    ['lo and eth0', set([['lo'], ['eth0']]), false],
    ['eth0 under eth+', set([['eth+'], ['eth0']]), true],
    ['eth+ and veth+ share no name', set([['eth+'], ['veth+']]), false],
    ['eth+ and eth1+', set([['eth+'], ['eth1+']]), true],
    ['lo, not lo', set([['lo']], ['lo']), false],
    ['eth+, not eth0: eth1 remains', set([['eth+']], ['eth0']), true],
    ['eth1+, not eth+', set([['eth1+']], ['eth+']), false],
    ['not every interface', set([], ['+']), false],
    ['lo or eth0, not lo', set([['lo', 'eth0']], ['lo']), true],
  ];
  for (const [name, s, want] of cases) {
    it(name, () => assert.equal(interfacesMeet(s), want));
    // The same constraints split between the two sides.
    it(`${name}, split`, () =>
      assert.equal(interfacesMeet({ unions: s.unions.slice(0, 1), excluded: [] }, { unions: s.unions.slice(1), excluded: s.excluded }), want));
  }
});

describe('overlap', () => {
  it('ports imply a protocol that has them', () => {
    const icmp = { ...EVERY_PACKET, protocols: { only: new Set(['icmp']), except: new Set<string>() } };
    assert.equal(overlap(icmp, EVERY_PACKET), true);
    assert.equal(overlap(icmp, { ...EVERY_PACKET, dport: portSet([{ from: 53, to: 53 }]) }), false);
  });
  it('families must share addresses of one family', () => {
    const v4 = { ...EVERY_PACKET, saddr: addressSet(['10.0.0.1'])! };
    const v6 = { ...EVERY_PACKET, daddr: addressSet(['fd00::1'])! };
    assert.equal(overlap(v4, v6), false);
    assert.equal(overlap(v4, { ...EVERY_PACKET, daddr: addressSet(['10.0.0.9'])! }), true);
  });
});

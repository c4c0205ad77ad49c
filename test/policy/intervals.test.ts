import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mergeIntervals, mergePortRanges } from '../../src/policy/intervals.js';

describe('mergeIntervals', () => {
  const cases: Array<{ name: string; list: Array<[number, number]>; touching: boolean; want: Array<[number, number]> }> = [
    { name: 'nothing', list: [], touching: true, want: [] },
    {
      name: 'sorted by start',
      list: [
        [5, 7],
        [1, 2],
      ],
      touching: false,
      want: [
        [1, 2],
        [5, 7],
      ],
    },
    {
      name: 'overlapping merged',
      list: [
        [1, 5],
        [3, 8],
      ],
      touching: false,
      want: [[1, 8]],
    },
    {
      name: 'one inside another',
      list: [
        [1, 10],
        [3, 4],
      ],
      touching: false,
      want: [[1, 10]],
    },
    {
      name: 'touching kept apart',
      list: [
        [1, 3],
        [3, 5],
      ],
      touching: false,
      want: [
        [1, 3],
        [3, 5],
      ],
    },
    {
      name: 'touching merged',
      list: [
        [3, 5],
        [1, 3],
      ],
      touching: true,
      want: [[1, 5]],
    },
    {
      name: 'a gap of one stays',
      list: [
        [1, 3],
        [4, 5],
      ],
      touching: true,
      want: [
        [1, 3],
        [4, 5],
      ],
    },
    {
      name: 'empty dropped',
      list: [
        [4, 4],
        [6, 5],
        [1, 2],
      ],
      touching: true,
      want: [[1, 2]],
    },
    {
      name: 'a chain',
      list: [
        [10, 12],
        [1, 4],
        [4, 6],
        [5, 11],
      ],
      touching: true,
      want: [[1, 12]],
    },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(mergeIntervals(c.list, c.touching), c.want));

  it('takes bigints (IPv6 addresses)', () => {
    const top = 1n << 128n;
    assert.deepEqual(
      mergeIntervals(
        [
          [top / 2n, top],
          [0n, top / 2n],
        ],
        true,
      ),
      [[0n, top]],
    );
  });

  it('leaves its input as it was', () => {
    const list: Array<[number, number]> = [
      [3, 5],
      [1, 4],
    ];
    mergeIntervals(list, true);
    assert.deepEqual(list, [
      [3, 5],
      [1, 4],
    ]);
  });
});

describe('mergePortRanges (inclusive ends)', () => {
  const r = (from: number, to = from) => ({ from, to });
  const cases: Array<{ name: string; ports: Array<{ from: number; to: number }>; touching: boolean; want: Array<{ from: number; to: number }> }> = [
    { name: 'single ports sorted, adjacent kept', ports: [r(81), r(80)], touching: false, want: [r(80), r(81)] },
    { name: 'single ports, adjacent merged', ports: [r(81), r(80)], touching: true, want: [r(80, 81)] },
    { name: 'overlap merged either way', ports: [r(8000, 8100), r(8050, 8200)], touching: false, want: [r(8000, 8200)] },
    { name: 'duplicate', ports: [r(443), r(443)], touching: false, want: [r(443)] },
    { name: 'range then next port (nft interval set)', ports: [r(80), r(81, 90)], touching: true, want: [r(80, 90)] },
    { name: 'a port apart', ports: [r(80), r(82, 90)], touching: true, want: [r(80), r(82, 90)] },
    { name: 'the ends of the port space', ports: [r(65535), r(1, 10), r(65000, 65534)], touching: true, want: [r(1, 10), r(65000, 65535)] },
  ];
  for (const c of cases) it(c.name, () => assert.deepEqual(mergePortRanges(c.ports, c.touching), c.want));
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { autoSize, tableBytes, type AutoSizeInput, type AutoSizeResult } from '../../src/policy/sizing.js';

const GiB = 1024 ** 3;
const base = { memoryBudgetPercent: 2, targetUsagePercent: 50, observedCount: 0 };

describe('tableBytes', () => {
  it('is max x slab object size + buckets x 8', () => {
    assert.equal(tableBytes(262144, 262144, 256), 262144 * 256 + 262144 * 8);
    assert.equal(tableBytes(1048576, 262144, 320), 1048576 * 320 + 262144 * 8);
  });
});

describe('autoSize: where the demand came from', () => {
  it('says the forecast when it asked for more than the count now', () => {
    const input = { ...base, memTotalBytes: 16 * GiB, slabObjectSize: 256, currentMax: 8192, observedCount: 2500 };
    assert.deepEqual([autoSize({ ...input, forecastCount: 32_500 }).demandFrom, autoSize({ ...input, forecastCount: 32_500 }).demand], ['forecast', 65_000]);
    assert.deepEqual([autoSize(input).demandFrom, autoSize(input).demand], ['count', 5000]);
  });
});

describe('autoSize', () => {
  // The nodes several cases share (each described where its cases start; node64: 64 GiB at max 262,144).
  const node64 = { ...base, memTotalBytes: 64 * GiB, slabObjectSize: 256, currentMax: 262144 };
  const surge = { ...base, memTotalBytes: 16 * GiB, slabObjectSize: 256, currentMax: 8192, minMax: 8192 };
  const afterSurge = { ...base, memTotalBytes: 16 * GiB, slabObjectSize: 256, minMax: 8192, giveBack: true };
  const cases: Array<{ name: string; input: AutoSizeInput; want: Pick<AutoSizeResult, 'max' | 'buckets' | 'limitedBy' | 'bytes'> }> = [
    {
      name: '1 GiB, slab 256: the 2% budget (81344 entries) is below the default floor and wins',
      input: { ...base, memTotalBytes: 1 * GiB, slabObjectSize: 256 },
      want: { max: 81344, buckets: 65536, limitedBy: 'ceiling', bytes: 21348352 },
    },
    {
      name: '1 GiB, slab 320: a bigger slab object gives fewer entries',
      input: { ...base, memTotalBytes: 1 * GiB, slabObjectSize: 320 },
      want: { max: 65472, buckets: 32768, limitedBy: 'ceiling', bytes: 21213184 },
    },
    {
      name: '4 GiB calm, nothing known of the kernel: the floor (kube-proxy min)',
      input: { ...base, memTotalBytes: 4 * GiB, slabObjectSize: 256 },
      want: { max: 131072, buckets: 131072, limitedBy: 'floor', bytes: 34603008 },
    },
    {
      name: '64 GiB calm: the current max is kept (grow-only)',
      input: { ...node64, observedCount: 5000 },
      want: { max: 262144, buckets: 262144, limitedBy: 'current', bytes: 69206016 },
    },
    {
      name: '64 GiB under pressure (76% used, target 50%): doubles to hold the count at the target',
      input: { ...node64, observedCount: 200000 },
      want: { max: 524288, buckets: 524288, limitedBy: 'demand', bytes: 138412032 },
    },
    {
      name: 'target 80%: the same count needs no growth',
      input: { ...node64, targetUsagePercent: 80, observedCount: 200000 },
      want: { max: 262144, buckets: 262144, limitedBy: 'demand', bytes: 69206016 },
    },
    {
      name: '8 GiB, slab 320, under pressure: growth stops at the budget',
      input: { ...base, memTotalBytes: 8 * GiB, slabObjectSize: 320, currentMax: 262144, observedCount: 400000 },
      want: { max: 523776, buckets: 262144, limitedBy: 'ceiling', bytes: 169705472 },
    },
    {
      name: '2 GiB with a max far above the budget and few entries: shrinks to the budget',
      input: { ...base, memTotalBytes: 2 * GiB, slabObjectSize: 256, currentMax: 1048576, observedCount: 1000 },
      want: { max: 162688, buckets: 131072, limitedBy: 'ceiling', bytes: 42696704 },
    },
    {
      name: '2 GiB with a max above the budget that the entries need: never shrinks below them',
      input: { ...base, memTotalBytes: 2 * GiB, slabObjectSize: 256, currentMax: 1048576, observedCount: 600000 },
      want: { max: 1048576, buckets: 1048576, limitedBy: 'current', bytes: 276824064 },
    },
    {
      name: 'maxMax caps growth below the budget',
      input: { ...node64, observedCount: 200000, maxMax: 300000 },
      want: { max: 300000, buckets: 262144, limitedBy: 'ceiling', bytes: 78897152 },
    },
    {
      name: 'minMax raises a calm table',
      input: { ...node64, minMax: 1000000 },
      want: { max: 1000000, buckets: 524288, limitedBy: 'floor', bytes: 260194304 },
    },
    {
      name: '512 GiB, slab 320, 10M entries: 20M wanted, the 2% budget allows 33.5M',
      input: { ...base, memTotalBytes: 512 * GiB, slabObjectSize: 320, observedCount: 10_000_000 },
      want: { max: 33521695, buckets: 16777216, limitedBy: 'ceiling', bytes: 10861160128 },
    },
    {
      name: '512 GiB, slab 256, budget 5%: 10M entries fit in the next doubling',
      input: { ...base, memoryBudgetPercent: 5, memTotalBytes: 512 * GiB, slabObjectSize: 256, observedCount: 10_000_000 },
      want: { max: 33554432, buckets: 33554432, limitedBy: 'demand', bytes: 8858370048 },
    },
    // 4 GiB x 2% = 85,899,345.92 bytes; 264 bytes per entry (256 + a bucket).
    {
      name: '4 GiB, a pod namespace at 150,000 (the fullest), nothing elsewhere: the budget, 85,899,345 B / 264 B = 325,376',
      input: { ...base, memTotalBytes: 4 * GiB, slabObjectSize: 256, currentMax: 262144, observedCount: 150_000 },
      want: { max: 325376, buckets: 262144, limitedBy: 'ceiling', bytes: 85393408 },
    },
    {
      name: '4 GiB, the same pod while other namespaces hold 100,000 entries: (85,899,345 - 100,000 x 256) / 264 = 228,406 for the fullest',
      input: { ...base, memTotalBytes: 4 * GiB, slabObjectSize: 256, currentMax: 131072, observedCount: 150_000, otherEntries: 100_000 },
      want: { max: 228406, buckets: 131072, limitedBy: 'ceiling', bytes: 59520512 },
    },
    {
      name: 'the other namespaces alone past the budget: max holds the fullest at the target, no more (2 x 1,000)',
      input: { ...base, memTotalBytes: 4 * GiB, slabObjectSize: 256, currentMax: 262144, observedCount: 1000, otherEntries: 400_000 },
      want: { max: 2000, buckets: 1024, limitedBy: 'current', bytes: 520192 },
    },
    // A surge in a pod namespace from max 8,192 (minMax 8,192, 16 GiB: room for 1.3 M entries).
    {
      name: 'a forecast of 2,500 + 500/s x 60 s = 32,500 entries: 65,000 at 50%, the next doubling 65,536, before the table is full',
      input: { ...surge, observedCount: 2500, forecastCount: 32_500 },
      want: { max: 65536, buckets: 65536, limitedBy: 'demand', bytes: 17301504 },
    },
    {
      name: 'a forecast below the count now: the count decides',
      input: { ...surge, observedCount: 6000, forecastCount: 100 },
      want: { max: 16384, buckets: 16384, limitedBy: 'demand', bytes: 4325376 },
    },
    {
      name: 'dropping for a full table while the count reads 3,000 (expired since): max doubles to 16,384 anyway',
      input: { ...surge, observedCount: 3000, droppingFull: true },
      want: { max: 16384, buckets: 16384, limitedBy: 'drops', bytes: 4325376 },
    },
    {
      name: 'dropping, with maxMax 10,000: the doubling stops at the ceiling',
      input: { ...surge, maxMax: 10_000, observedCount: 8192, droppingFull: true },
      want: { max: 10000, buckets: 8192, limitedBy: 'ceiling', bytes: 2625536 },
    },
    // Giving back after the surge: 16 GiB, floor 8,192, max 65,536.
    {
      name: 'calm for the cooldown, the fullest at 1,000 (2,000 at 50%, under 65,536 / 4): max halves to 32,768',
      input: { ...afterSurge, currentMax: 65536, observedCount: 1000 },
      want: { max: 32768, buckets: 32768, limitedBy: 'giveBack', bytes: 8650752 },
    },
    {
      name: 'calm for the cooldown, but the fullest at 9,000 (18,000 at 50%: not under 65,536 / 4): max stays',
      input: { ...afterSurge, currentMax: 65536, observedCount: 9000 },
      want: { max: 65536, buckets: 65536, limitedBy: 'current', bytes: 17301504 },
    },
    {
      name: 'calm at 12,000 with the floor at 8,192: half (6,000) would be under the floor, the floor it is',
      input: { ...afterSurge, currentMax: 12000, observedCount: 10 },
      want: { max: 8192, buckets: 8192, limitedBy: 'floor', bytes: 2162688 },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const got = autoSize(c.input);
      // bytes written out: max x slab object size + buckets x 8.
      assert.deepEqual({ max: got.max, buckets: got.buckets, limitedBy: got.limitedBy, bytes: got.bytes }, c.want);
      assert.equal(got.buckets & (got.buckets - 1), 0, 'buckets is a power of two');
      assert.ok(got.buckets <= got.max && got.buckets * 2 > got.max, 'max/buckets within [1, 2): chains <= 4 when full');
      if (got.limitedBy !== 'current') {
        const others = (c.input.otherEntries ?? 0) * c.input.slabObjectSize;
        assert.ok(got.bytes + others <= (c.input.memTotalBytes * c.input.memoryBudgetPercent) / 100, 'within the memory budget, the other namespaces counted');
      }
      assert.ok(got.max >= Math.min(c.input.currentMax ?? 0, got.demand), 'never below what the entries need');
    });
    it(`${c.name}: stable when run again on its own result`, () => {
      const first = autoSize(c.input);
      // Drops and the give-back are judged pass by pass: the next pass sees only new drops, and a new cooldown.
      assert.equal(autoSize({ ...c.input, currentMax: first.max, droppingFull: false, giveBack: false }).max, first.max);
    });
  }
});

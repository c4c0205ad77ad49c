import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, type BackoffPolicy } from '../src/backoff.js';
import { seededRandom } from './support/seeded-random.js';

const fixed = (r: number) => () => r;

// Without jitter (or with random() = 0) the sequence is the doubling, capped; random() near 1 stretches each by jitter.
const sequences: Array<{ name: string; policy: BackoffPolicy; random: number; delays: number[] }> = [
  { name: 'doubles from initialMs up to maxMs', policy: { initialMs: 5, maxMs: 40, jitter: 0 }, random: 0.7, delays: [5, 10, 20, 40, 40, 40] },
  {
    name: 'random() = 0: the lower bound, the plain doubling',
    policy: { initialMs: 800, maxMs: 30_000, jitter: 1 },
    random: 0,
    delays: [800, 1600, 3200, 6400, 12_800, 25_600, 30_000, 30_000],
  },
  {
    name: 'jitter 1.0, random() = 0.5: each delay 1.5 times',
    policy: { initialMs: 800, maxMs: 30_000, jitter: 1 },
    random: 0.5,
    delays: [1200, 2400, 4800, 9600, 19_200, 38_400, 45_000, 45_000],
  },
  { name: 'the cap applies before the jitter (wait.Backoff)', policy: { initialMs: 1000, maxMs: 2000, jitter: 0.5 }, random: 0.5, delays: [1250, 2500, 2500] },
  { name: 'a maxMs below initialMs caps the first delay too', policy: { initialMs: 1000, maxMs: 300, jitter: 0 }, random: 0, delays: [300, 300] },
];

for (const c of sequences) {
  test(`backoff: ${c.name}`, () => {
    const b = new Backoff(c.policy, () => 0, fixed(c.random));
    assert.deepEqual(
      c.delays.map(() => b.next('k')),
      c.delays,
    );
    assert.equal(b.failureCount('k'), c.delays.length);
  });
}

test('backoff: keys are independent; forget starts a key over', () => {
  const b = new Backoff({ initialMs: 10, maxMs: 1000, jitter: 0 }, () => 0, fixed(0));
  assert.deepEqual([b.next('a'), b.next('a'), b.next('a'), b.next('b')], [10, 20, 40, 10]);
  b.forget('a');
  assert.equal(b.failureCount('a'), 0);
  assert.deepEqual([b.next('a'), b.next('b')], [10, 20]);
});

test('backoff: with resetAfterMs, a failure after a longer quiet spell starts over; a shorter one does not', () => {
  let now = 0;
  const b = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: 0, resetAfterMs: 120_000 }, () => now, fixed(0));
  const at = (t: number) => ((now = t), b.next('relist'));
  assert.deepEqual([at(0), at(1_000), at(121_000), at(241_001), at(241_002)], [100, 200, 400, 100, 200]);
});

test('backoff: without resetAfterMs, time alone never starts a key over', () => {
  let now = 0;
  const b = new Backoff({ initialMs: 100, maxMs: 10_000, jitter: 0 }, () => now, fixed(0));
  b.next('k');
  now = 1e9;
  assert.equal(b.next('k'), 200);
});

test('backoff: seeded jitter stays within [d, 2d] (jitter 1.0) and differs between sources', () => {
  const policy = { initialMs: 800, maxMs: 30_000, jitter: 1 };
  const run = (seed: number) => {
    const b = new Backoff(policy, () => 0, seededRandom(seed));
    return Array.from({ length: 12 }, () => b.next('k'));
  };
  const [one, two] = [run(1), run(2)];
  for (const delays of [one, two]) {
    delays.forEach((d, i) => {
      const base = Math.min(800 * 2 ** i, 30_000);
      assert.ok(d >= base && d <= 2 * base, `failure ${i + 1}: ${d} outside [${base}, ${2 * base}]`);
    });
  }
  assert.deepEqual(run(1), one, 'the same seed replays the same delays');
  assert.ok(one.filter((d, i) => d !== two[i]).length >= 10, `two seeds gave nearly the same delays: ${one} / ${two}`);
});

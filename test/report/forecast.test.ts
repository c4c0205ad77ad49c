import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillingUpNext, forecastFill, mayBreakOut, NOT_FILLING, type CountSample, type FillingUp, type Forecast } from '../../src/report/forecast.js';

/** One sample a second from t=0, entries from `f(second)`. */
const series = (seconds: number, f: (s: number) => number): CountSample[] => Array.from({ length: seconds }, (_, s) => ({ atMs: s * 1000, entries: f(s) }));

const cases: Array<{ name: string; history: CountSample[]; max: number; want: Partial<Forecast> | null }> = [
  {
    name: 'a steady ramp of 500 entries/s: the shortest window already says when',
    history: series(30, (s) => 500 * s),
    max: 20_000,
    // level 14,500 at t=29 s; (20,000 - 14,500) / 500 = 11 s; the 5 s window holds t=24..29
    want: { ratePerSecond: 500, level: 14_500, secondsToFull: 11, windowSeconds: 5, samples: 6 },
  },
  {
    name: 'a flat table is not filling (the longest window reports the rate)',
    history: series(30, () => 4000),
    max: 8192,
    want: { ratePerSecond: 0, level: 4000, secondsToFull: null, windowSeconds: 29, samples: 30 },
  },
  {
    name: 'an emptying table is not filling',
    history: series(20, (s) => 8000 - 100 * s),
    max: 8192,
    want: { ratePerSecond: -100, level: 6100, secondsToFull: null },
  },
  {
    name: 'one outlier (a reading of 0) does not move the rate or the level of a ramp near max',
    history: series(21, (s) => (s === 18 ? 0 : 9000 + 100 * s)),
    max: 12_000,
    // level 11,000 at t=20; (12,000 - 11,000) / 100 = 10 s
    want: { ratePerSecond: 100, level: 11_000, secondsToFull: 10 },
  },
  {
    name: 'slow growth far from max is no forecast: 10 entries/s with 98,800 to go is not trusted from 20 s of samples',
    history: series(21, (s) => 1000 + 10 * s),
    max: 100_000,
    want: { ratePerSecond: 10, level: 1200, secondsToFull: null },
  },
  {
    name: 'a rising tooth far from max is no forecast: the 5 s window rises 100/s but 2,800 to go is beyond its trust',
    history: series(30, (s) => 5000 + 100 * (s % 5)),
    max: 8192,
    want: { secondsToFull: null },
  },
  {
    name: 'growth slower than 1/100,000 of max per second is not a forecast',
    history: series(30, (s) => 999_000 + 5 * s),
    max: 1_000_000,
    want: { ratePerSecond: 5, secondsToFull: null },
  },
  { name: 'three samples are too few', history: series(3, (s) => s * 100), max: 1000, want: null },
  { name: 'no samples', history: [], max: 1000, want: null },
];

for (const c of cases) {
  test(`forecastFill: ${c.name}`, () => {
    const got = forecastFill(c.history, c.max);
    if (c.want === null) return assert.equal(got, null);
    assert.ok(got, 'a forecast');
    for (const [k, v] of Object.entries(c.want)) {
      const actual: number | null = got[k as keyof Forecast];
      if (typeof v === 'number' && typeof actual === 'number') assert.ok(Math.abs(actual - v) < 1e-6, `${k}: got ${actual}, want ${v}`);
      else assert.equal(actual, v, k);
    }
  });
}

/** Feeds `count(second)` one sample a second through the forecast and the hysteresis; returns the seconds FillingUp was on. */
function fillingSeconds(seconds: number, count: (s: number) => number, max: number, horizonSeconds = 60): number[] {
  const history: CountSample[] = [];
  let state: FillingUp = NOT_FILLING;
  const on: number[] = [];
  for (let s = 0; s < seconds; s++) {
    history.push({ atMs: s * 1000, entries: count(s) });
    state = fillingUpNext(state, forecastFill(history, max), { horizonSeconds });
    if (state.filling) on.push(s);
  }
  return on;
}

test('a surge after a calm minute (500 entries/s from 100, max 8192): FillingUp at least 5 s before the table is full', () => {
  const start = 60;
  const entries = (s: number) => Math.min(8192, s < start ? 100 : 100 + 500 * (s - start));
  const fullAt = start + (8192 - 100) / 500; // 76.2 s
  const on = fillingSeconds(90, entries, 8192);
  assert.ok(on.length > 0, 'FillingUp turned on');
  assert.ok(on[0]! >= start, `not before the surge (on at ${on[0]} s)`);
  assert.ok(fullAt - on[0]! >= 5, `lead time ${fullAt - on[0]!} s, want >= 5 s`);
});

test('a sawtooth at half the table for five minutes never turns FillingUp on', () => {
  // Up 200/s for 10 s, down in one step: 3000..5000 of 8192, as waves of TIME_WAIT entries expire.
  assert.deepEqual(
    fillingSeconds(300, (s) => 3000 + 200 * (s % 10), 8192),
    [],
  );
});

test('noise of +/-5% around a flat 6000 of 8192 never turns FillingUp on', () => {
  // A fixed pseudo-random sequence (no Math.random: the test must be repeatable).
  let x = 12345;
  const noise = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 600;
  assert.deepEqual(
    fillingSeconds(300, () => 6000 + noise(), 8192),
    [],
  );
});

const f = (secondsToFull: number | null): Forecast => ({ ratePerSecond: 1, level: 0, secondsToFull, windowSeconds: 30, samples: 30 });

test('fillingUpNext: turns on after two samples within the horizon, off after ten beyond twice the horizon; holds in between', () => {
  const steps: Array<[Forecast | null, boolean]> = [
    [f(50), false], // within 60 s: one sample is not enough
    [f(200), false], // beyond: the count starts again
    [f(50), false],
    [f(40), true], // second in a row: on
    [f(100), true], // between 60 and 120 s: holds, and does not count towards off
    ...Array.from({ length: 9 }, (): [Forecast | null, boolean] => [f(null), true]), // nine "not growing": still on
    [f(30), true], // soon again: the off count starts over
    ...Array.from({ length: 9 }, (): [Forecast | null, boolean] => [f(500), true]),
    [null, false], // the tenth in a row beyond 120 s (no forecast at all counts too): off
  ];
  let state: FillingUp = NOT_FILLING;
  for (const [i, [forecast, want]] of steps.entries()) {
    state = fillingUpNext(state, forecast, { horizonSeconds: 60 });
    assert.equal(state.filling, want, `step ${i} (secondsToFull ${forecast?.secondsToFull ?? 'none'})`);
  }
});

const breakoutCases: Array<{ name: string; history: CountSample[]; max: number; want: boolean }> = [
  { name: 'no samples', history: [], max: 8192, want: false },
  { name: 'shorter than the longest window: maybe (nothing before it to compare with)', history: series(30, () => 4000), max: 8192, want: true },
  { name: 'flat for 80 s', history: series(80, () => 4000), max: 8192, want: false },
  // The margin is 1% of max: 82 entries at 8,192.
  { name: 'noise within the margin around a plateau', history: series(80, (s) => 4000 + (s % 2) * 80), max: 8192, want: false },
  { name: 'a ramp in the last 40 s above everything before', history: series(80, (s) => (s < 60 ? 100 : 100 + 500 * (s - 59))), max: 8192, want: true },
  { name: 'a sawtooth back to where it has been', history: series(80, (s) => 5000 + 100 * (s % 10)), max: 8192, want: false },
  {
    name: 'a rise that fell back within the window still counts (a shorter window may have trusted it)',
    history: series(80, (s) => (s === 70 ? 6000 : 4000)),
    max: 8192,
    want: true,
  },
];
for (const c of breakoutCases) {
  test(`mayBreakOut: ${c.name}`, () => assert.equal(mayBreakOut(c.history, c.max), c.want));
}

test('mayBreakOut is false only where forecastFill trusts no window', () => {
  for (const c of [...cases, ...breakoutCases.map((b) => ({ ...b, want: null }))]) {
    if (!mayBreakOut(c.history, c.max)) assert.equal(forecastFill(c.history, c.max)?.secondsToFull ?? null, null, c.name);
  }
});

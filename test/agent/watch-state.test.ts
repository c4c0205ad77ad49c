// The table watch's pure rules: a sample in (history, forecast, FillingUp,
// drops), who is read every tick, and the view the pass and reports get.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropRose, hotKeys, observe, projected, watched, watchView, type WatchedNetns } from '../../src/agent/watch-state.js';
import { FORECAST_HISTORY_MS, type NetnsRef } from '../../src/report/forecast.js';

const T0 = 1_000_000;
const MAX = 8192;
/** FillingUp's horizon, on after the default two samples (the watch's rule without autoSize). */
const HORIZON_60 = { horizonSeconds: 60 };
const ref = (key: number, over: Partial<NetnsRef> = {}): NetnsRef => ({ key, inode: key - 1, pid: key % 1000, host: false, podUid: null, ...over });

/** A namespace after samples of `counts`, one a second from T0. */
function fed(key: number, counts: number[], over: Partial<WatchedNetns> = {}): WatchedNetns {
  let ns = { ...watched(ref(key), String(key % 1000), false), ...over };
  counts.forEach((entries, i) => (ns = observe(ns, T0 + i * 1000, { entries, drop: 0, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60).ns));
  return ns;
}

test('dropRose: only a drop counter above the last sample asks for a pass', () => {
  const cases: Array<{ name: string; last: number | undefined; now: number | null | undefined; rose: boolean }> = [
    { name: 'rose', last: 10, now: 11, rose: true },
    { name: 'same', last: 10, now: 10, rose: false },
    { name: 'went back (a CPU row gone, a reboot)', last: 10, now: 3, rose: false },
    { name: 'no sample has read it yet', last: undefined, now: 10, rose: false },
    { name: 'unreadable now', last: 10, now: null, rose: false },
  ];
  for (const c of cases) assert.equal(dropRose(c.last, c.now), c.rose, c.name);
});

test('observe: the history keeps FORECAST_HISTORY_MS, drops rising are seen, an unread count keeps the history', () => {
  let ns = watched(ref(1), '1', false);
  ns = observe(ns, T0, { entries: 5, drop: 2, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60).ns;
  const rose = observe(ns, T0 + 1000, { entries: 6, drop: 3, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60);
  assert.equal(rose.dropsRose, true);
  assert.deepEqual(rose.ns.counters, { drop: 3, insertFailed: 0, earlyDrop: 0 });
  const unread = observe(rose.ns, T0 + 2000, { entries: null, drop: null, insertFailed: null, earlyDrop: null }, MAX, HORIZON_60);
  assert.deepEqual([unread.ns.history.length, unread.dropsRose, unread.ns.counters], [2, false, { drop: 3, insertFailed: 0, earlyDrop: 0 }]);
  const later = observe(unread.ns, T0 + FORECAST_HISTORY_MS + 500, { entries: 9, drop: 3, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60);
  assert.deepEqual(
    later.ns.history.map((s) => s.entries),
    [6, 9],
    'the sample of T0 is older than the history kept',
  );
});

test('observe: a ramp of 500 entries/s towards 8,192 turns FillingUp on (once), with a forecast that says when', () => {
  // 20 s flat at 100 (the history before the window a breakout is judged against), then +500/s.
  let ns = fed(
    1,
    Array.from({ length: 20 }, () => 100),
  );
  const turned: number[] = [];
  for (let s = 1; s <= 8; s++) {
    const o = observe(ns, T0 + (19 + s) * 1000, { entries: 100 + 500 * s, drop: 0, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60);
    if (o.turnedFilling) turned.push(s);
    ns = o.ns;
  }
  assert.equal(turned.length, 1, `turned on once, at second ${turned[0]}`);
  assert.equal(ns.filling.filling, true);
  // At second 8: 4,100 entries, 500/s: (8,192 - 4,100) / 500 = 8.2 s to full.
  assert.ok(Math.abs(ns.forecast!.ratePerSecond - 500) < 1, `rate ${ns.forecast!.ratePerSecond}`);
  assert.ok(Math.abs(ns.forecast!.secondsToFull! - 8.2) < 0.1, `secondsToFull ${ns.forecast!.secondsToFull}`);
});

test('projected: the last two samples carried over the horizon; never below the count', () => {
  assert.equal(projected(watched(ref(1), '1', false), 60), 0);
  assert.equal(projected(fed(1, [100]), 60), 100);
  assert.equal(projected(fed(1, [100, 150]), 60), 150 + 50 * 60);
  assert.equal(projected(fed(1, [150, 100]), 60), 100);
});

test('hotKeys: ours, the host, new and filling ones always; then the nearest to full; every one projected above the warning', () => {
  const all = [
    fed(1, [10], { via: 'self' }),
    fed(2, [5], { ref: ref(2, { host: true }) }),
    fed(3, [0], { fresh: true }),
    fed(4, [1], { filling: { filling: true, streak: 0 } }),
    fed(5, [4000]),
    fed(6, [3000]),
    fed(7, [100, 120]), // +20/s: 1,320 in 60 s
    fed(8, [50]),
    fed(9, [6000]), // above 70% of 8,192 (5,734)
  ];
  const hot = (count: number) => [...hotKeys(all, { max: MAX, warningPercent: 70, horizonSeconds: 60, count })].sort((a, b) => a - b);
  assert.deepEqual(hot(0), [1, 2, 3, 4, 9]);
  assert.deepEqual(hot(3), [1, 2, 3, 4, 5, 6, 9]);
  assert.deepEqual(hot(4), [1, 2, 3, 4, 5, 6, 7, 9], 'climbing 7 ranks before the fuller but flat 8');
});

test('watchView: the focus is the filling namespace full soonest, else a trusted forecast, else the fullest', () => {
  const flat = fed(1, [7000]);
  const ramp = fed(2, [...Array.from({ length: 20 }, () => 100), ...Array.from({ length: 8 }, (_, s) => 600 + 500 * s)]);
  assert.equal(ramp.filling.filling, true);
  const empty = watched(ref(3), '3', true);
  const v = watchView([flat, ramp, empty], 60, T0 + 5000, MAX);
  assert.deepEqual([v.focus?.ns.key, v.focus?.entries, v.filling, v.horizonSeconds, v.atMs], [2, 4100, true, 60, T0 + 5000]);
  const calm = watchView([flat, empty], 60, T0, MAX);
  assert.deepEqual([calm.focus?.ns.key, calm.focus?.entries, calm.focus?.forecast, calm.filling], [1, 7000, null, false], 'one sample: no forecast yet');
  const flatLonger = fed(
    1,
    Array.from({ length: 50 }, () => 7000),
  );
  assert.equal(flatLonger.forecast, null, 'a table flat for longer than the longest window is not fitted sample by sample');
  assert.deepEqual(
    watchView([flatLonger], 60, T0, MAX).focus?.forecast,
    { ratePerSecond: 0, level: 7000, secondsToFull: null, windowSeconds: 40, samples: 41 },
    'the view fits its rate, once',
  );
  const trustedNotYetFilling = { ...ramp, filling: { filling: false, streak: 1 } };
  assert.equal(watchView([flat, trustedNotYetFilling], 60, T0, MAX).focus?.ns.key, 2);
  assert.deepEqual(watchView([empty], 60, T0, MAX), { focus: null, filling: false, horizonSeconds: 60, atMs: T0 });
});

test('observe: no fit while the count cannot have broken out; one as soon as it may have', () => {
  let ns = watched(ref(1), '1', false);
  for (let i = 0; i < 9; i++) ns = observe(ns, T0 + i * 10_000, { entries: 300, drop: 0, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60).ns;
  assert.equal(ns.forecast, null, 'flat for 80 s: nothing to fit');
  const climbing = observe(ns, T0 + 90_000, { entries: 2300, drop: 0, insertFailed: 0, earlyDrop: 0 }, MAX, HORIZON_60).ns;
  assert.ok(climbing.forecast, 'above everything before: fitted');
});

test('observe: early drops rising (entries evicted to make room) are a full table too', () => {
  const ns = observe(watched(ref(1), '1', false), T0, { entries: 8192, drop: 0, insertFailed: 0, earlyDrop: 4 }, MAX, HORIZON_60).ns;
  assert.equal(observe(ns, T0 + 1000, { entries: 8192, drop: 0, insertFailed: 0, earlyDrop: 9 }, MAX, HORIZON_60).dropsRose, true);
  assert.equal(observe(ns, T0 + 1000, { entries: 8192, drop: 0, insertFailed: 0, earlyDrop: 4 }, MAX, HORIZON_60).dropsRose, false);
});

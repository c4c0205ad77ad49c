// The rules that move the agent's state from one pass to the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calmSince,
  breakdownDue,
  dropBaselineAt,
  droppingFull,
  passDrops,
  recordDrops,
  stuckProblem,
  type DropBaseline,
  type DropHistory,
  type TableBreakdown,
} from '../../src/agent/agent-state.js';
import type { TableSummary } from '../../src/kernel/table-summary.js';
import type { NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { censusOf, censusRow } from '../support/census.js';

const MIN = 60_000;
const T = (ms: number) => Date.parse('2026-11-22T04:00:00Z') + ms;

test('breakdownDue: the table is dumped again after its interval, and until one dump succeeded', () => {
  const summary = {} as TableSummary; // only whether there is one matters here
  const cases: Array<{ name: string; last: TableBreakdown; nowMs: number; due: boolean }> = [
    { name: 'never dumped', last: { summary: null, source: 'none', atMs: 0 }, nowMs: 1000, due: true },
    {
      name: 'tried a second ago, nothing read (no source, or it failed)',
      last: { summary: null, source: 'none', atMs: 10 * MIN },
      nowMs: 10 * MIN + 1000,
      due: true,
    },
    { name: 'dumped a minute ago', last: { summary, source: 'procfs', atMs: 10 * MIN }, nowMs: 11 * MIN, due: false },
    { name: 'dumped just under five minutes ago', last: { summary, source: 'procfs', atMs: 10 * MIN }, nowMs: 15 * MIN - 1, due: false },
    { name: 'dumped five minutes ago', last: { summary, source: 'conntrack-tool', atMs: 10 * MIN }, nowMs: 15 * MIN, due: true },
  ];
  for (const c of cases) assert.equal(breakdownDue(c.last, c.nowMs, 5 * MIN), c.due, c.name);
});

test('drop history: every pass judges drops over at least one interval, against the newest sample that old', () => {
  const at = (atMs: number): DropBaseline => ({ counters: { atMs, counters: { drop: atMs } }, netns: null, atMs });
  const cases: Array<{ name: string; passes: number[]; baselines: Array<number | null>; kept: number[] }> = [
    { name: 'the first pass has nothing to judge against', passes: [0], baselines: [null], kept: [0] },
    { name: 'passes an interval apart: each against the one before', passes: [0, 1000, 2000, 3000], baselines: [null, 0, 1000, 2000], kept: [2000, 3000] },
    {
      // As seen under load: the baseline had just moved on to 252819 when the drop probe ran a pass 35 ms later.
      name: 'a pass 35 ms after one that moved on still judges over more than an interval',
      passes: [250887, 251831, 252819, 252854, 253831],
      baselines: [null, 250887, 250887, 251831, 252819],
      kept: [252819, 252854, 253831],
    },
    { name: 'a second pass within the first interval: against the first', passes: [0, 300, 600], baselines: [null, 0, 0], kept: [0, 300, 600] },
    {
      name: 'a pass exactly an interval after the baseline moves on to it',
      passes: [0, 500, 1000, 1500],
      baselines: [null, 0, 0, 500],
      kept: [500, 1000, 1500],
    },
    { name: 'a long gap: against the pass before it, however old', passes: [0, 1000, 60_000], baselines: [null, 0, 1000], kept: [1000, 60_000] },
  ];
  for (const c of cases) {
    let history: DropHistory = [];
    const baselines = c.passes.map((ms) => {
      const base = dropBaselineAt(history, ms, 1000)?.atMs ?? null;
      history = recordDrops(history, at(ms), 1000);
      return base;
    });
    assert.deepEqual(baselines, c.baselines, `${c.name}: baselines`);
    assert.deepEqual(
      history.map((h) => h.atMs),
      c.kept,
      `${c.name}: kept`,
    );
  }
});

test('drop history: a pass that could not read the counters is a sample like another (its window is then not judged)', () => {
  const history = recordDrops(
    recordDrops([], { counters: null, netns: null, atMs: 0 }, 1000),
    { counters: { atMs: 1000, counters: { drop: 3 } }, netns: null, atMs: 1000 },
    1000,
  );
  assert.equal(dropBaselineAt(history, 1500, 1000)?.counters, null);
  assert.deepEqual(dropBaselineAt(history, 2000, 1000)?.counters, { atMs: 1000, counters: { drop: 3 } });
});

test('stuckProblem: live while a pass finished within three intervals and a minute', () => {
  const cases: Array<{ name: string; lateMs: number; problem: string | null }> = [
    { name: 'just finished', lateMs: 0, problem: null },
    { name: 'at the limit', lateMs: 3 * 30_000 + MIN, problem: null },
    { name: 'past it', lateMs: 3 * 30_000 + MIN + 1000, problem: 'no reconcile pass finished for 151s' },
  ];
  for (const c of cases) assert.equal(stuckProblem(T(0), T(c.lateMs), 30_000), c.problem, c.name);
});

test('droppingFull: namespaces whose drops rose beyond their insert_failed, or whose early drops rose, since the last pass', () => {
  const prev = new Map([
    [1, { drop: 10, insertFailed: 2, earlyDrop: 0 }],
    [2, { drop: 5, insertFailed: 0, earlyDrop: 0 }],
    [3, { drop: 0, insertFailed: 0, earlyDrop: 0 }],
    [5, { drop: 0, insertFailed: 0, earlyDrop: 7 }],
  ]);
  const now = new Map([
    [1, { drop: 14, insertFailed: 6, earlyDrop: 0 }], // 4 drops, 4 failed inserts: the insertion race, not a full table
    [2, { drop: 9, insertFailed: 0, earlyDrop: 0 }], // 4 drops for a full table
    [3, { drop: 0, insertFailed: 0, earlyDrop: 0 }],
    [4, { drop: 50, insertFailed: 0, earlyDrop: 9 }], // new since the last pass: its counters are history
    [5, { drop: 0, insertFailed: 0, earlyDrop: 12 }], // entries evicted to make room: full too
  ]);
  assert.deepEqual(droppingFull(prev, now), [2, 5]);
  assert.deepEqual(droppingFull(null, now), [], 'the first pass judges nothing');
});

test("passDrops: the census's counters; ours from the snapshot where the census could not read them", () => {
  const row = (key: number, ours: boolean, drop: number | null) =>
    censusRow({ key, host: ours, ours, entries: drop === null ? null : 1, counters: drop === null ? null : { drop, insertFailed: 0, earlyDrop: 1 } });
  const census = (rows: NetnsCensusRow[]) => censusOf(rows, { processes: 2 });
  assert.deepEqual(
    [...passDrops(census([row(1, true, 3), row(2, false, 7)]), { drop: 99, insertFailed: 1 })],
    [
      [1, { drop: 3, insertFailed: 0, earlyDrop: 1 }],
      [2, { drop: 7, insertFailed: 0, earlyDrop: 1 }],
    ],
  );
  assert.deepEqual(
    [...passDrops(census([row(1, true, null), row(2, false, null)]), { drop: 99, insertFailed: 1 })],
    [[1, { drop: 99, insertFailed: 1, earlyDrop: 0 }]],
  );
});

test('calmSince: starts with the first calm pass, holds while calm, restarts after a give-back, ends when not calm', () => {
  const cases: Array<{ name: string; prev: number | null; calm: boolean; gaveBack: boolean; want: number | null }> = [
    { name: 'first calm pass', prev: null, calm: true, gaveBack: false, want: 5000 },
    { name: 'still calm', prev: 1000, calm: true, gaveBack: false, want: 1000 },
    { name: 'gave back: the next halving waits a whole cooldown', prev: 1000, calm: true, gaveBack: true, want: 5000 },
    { name: 'filling up, dropping or busy again', prev: 1000, calm: false, gaveBack: false, want: null },
  ];
  for (const c of cases) assert.equal(calmSince(c.prev, c.calm, c.gaveBack, 5000), c.want, c.name);
});

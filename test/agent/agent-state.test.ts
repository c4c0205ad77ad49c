// The rules that move the agent's state from one pass to the next.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  advanceDropBaseline,
  calmSince,
  breakdownDue,
  droppingFull,
  passDrops,
  stuckProblem,
  type DropBaseline,
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

test('advanceDropBaseline: drops are judged over at least one interval', () => {
  const at = (atMs: number, drop: number): DropBaseline => ({ counters: { atMs, counters: { drop } }, netns: null, atMs });
  const cases: Array<{ name: string; prev: DropBaseline | null; next: DropBaseline; kept: 'prev' | 'next' }> = [
    { name: 'the first pass starts the window', prev: null, next: at(0, 5), kept: 'next' },
    { name: 'a pass 2 s later (the probe, a kmsg line) keeps the window', prev: at(0, 5), next: at(2000, 15), kept: 'prev' },
    { name: 'just under an interval later: kept', prev: at(0, 5), next: at(MIN - 1, 15), kept: 'prev' },
    { name: 'an interval later: moves on', prev: at(0, 5), next: at(MIN, 15), kept: 'next' },
    {
      name: 'a pass that could not read the counters moves on too, after an interval',
      prev: at(0, 5),
      next: { counters: null, netns: null, atMs: 2 * MIN },
      kept: 'next',
    },
  ];
  for (const c of cases) assert.equal(advanceDropBaseline(c.prev, c.next, MIN), c.kept === 'prev' ? c.prev : c.next, c.name);
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

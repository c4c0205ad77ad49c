import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropWindow } from '../../src/report/drops.js';
import type { ConntrackCounters } from '../../src/kernel/stats.js';

const at = (s: number, counters: ConntrackCounters) => ({ atMs: s * 1000, counters });

const cases: Array<{ name: string; before: ConntrackCounters; after: ConntrackCounters; want: Record<string, number | null> }> = [
  {
    name: 'drop alone rose: no entry could be allocated (table full)',
    before: { drop: 10, insertFailed: 2, earlyDrop: 0, clashResolve: 0 },
    after: { drop: 25, insertFailed: 2, earlyDrop: 0, clashResolve: 0 },
    want: { tableFull: 15, insertionRace: 0, insertFailed: 0, clashResolved: 0 },
  },
  {
    name: 'drop and insert_failed rose together: unresolved insertion races',
    before: { drop: 0, insertFailed: 0, earlyDrop: 0 },
    after: { drop: 7, insertFailed: 7, earlyDrop: 0 },
    want: { tableFull: 0, insertionRace: 7, insertFailed: 7, clashResolved: null },
  },
  {
    name: 'both at once: the races are counted, the rest was a full table',
    before: { drop: 100, insertFailed: 50, earlyDrop: 3 },
    after: { drop: 130, insertFailed: 55, earlyDrop: 9 },
    want: { tableFull: 25, insertionRace: 5, earlyDrop: 6 },
  },
  {
    name: 'insert_failed without drop is no dropped packet',
    before: { drop: 0, insertFailed: 0 },
    after: { drop: 0, insertFailed: 4 },
    want: { tableFull: 0, insertionRace: 0, insertFailed: 4 },
  },
  {
    name: 'resolved races (6.18: clash_resolve 236, nothing dropped) are only counted',
    before: { drop: 0, insertFailed: 0, clashResolve: 0 },
    after: { drop: 0, insertFailed: 0, clashResolve: 236 },
    want: { tableFull: 0, insertionRace: 0, clashResolved: 236 },
  },
  {
    name: 'counters that went backwards (a reboot between samples) are no negative drops',
    before: { drop: 500, insertFailed: 10 },
    after: { drop: 3, insertFailed: 1 },
    want: { tableFull: 0, insertionRace: 0, insertFailed: 0 },
  },
];

for (const c of cases) {
  test(`dropWindow: ${c.name}`, () => {
    const w = dropWindow(at(100, c.before), at(102.5, c.after));
    assert.equal(w.seconds, 2.5);
    for (const [k, v] of Object.entries(c.want)) assert.equal(w[k as keyof typeof w], v, k);
  });
}

// Why the kernel dropped packets of new flows, told from how its counters
// moved over a window (totals are since boot: only a rate says "now").
// The kernel counts `drop` in two places:
// - no entry could be allocated: the table is full and early_drop found
//   nothing to evict (kmsg "nf_conntrack: table full, dropping packet");
//   only `drop` rises;
// - two packets of one new flow raced to insert the same tuple and the clash
//   could not be resolved (nf_ct_resolve_clash): `drop` and `insert_failed`
//   rise together. The UDP/DNS race behind 5-second DNS delays, on tables
//   that may be nearly empty.
// Newer kernels resolve most races and count them in `clash_resolve`:
// information, not a problem.
import type { ConntrackCounters } from '../kernel/stats.js';

export interface CounterSample {
  /** When the counters were read, ms since the epoch. */
  atMs: number;
  counters: ConntrackCounters;
}

export interface DropWindow {
  seconds: number;
  /** Packets of new flows dropped because the table was full. */
  tableFull: number;
  /** Packets dropped because an insertion race could not be resolved. */
  insertionRace: number;
  earlyDrop: number;
  insertFailed: number;
  /** Races the kernel resolved; null where this kernel does not count them. */
  clashResolved: number | null;
}

// A counter going backwards (a reboot between samples, a CPU row gone) is a new start, not a negative rate.
const rise = (before: number | undefined, after: number | undefined): number => (before === undefined || after === undefined ? 0 : Math.max(0, after - before));

/** How the counters moved from one sample to the next, drops split by cause. */
export function dropWindow(before: CounterSample, after: CounterSample): DropWindow {
  const b = before.counters;
  const a = after.counters;
  const drop = rise(b.drop, a.drop);
  const insertFailed = rise(b.insertFailed, a.insertFailed);
  // Every unresolved clash raises both; whatever drop rose by beyond that found no entry to allocate.
  const insertionRace = Math.min(drop, insertFailed);
  return {
    seconds: Math.max(0, (after.atMs - before.atMs) / 1000),
    tableFull: drop - insertionRace,
    insertionRace,
    earlyDrop: rise(b.earlyDrop, a.earlyDrop),
    insertFailed,
    clashResolved: a.clashResolve === undefined ? null : rise(b.clashResolve, a.clashResolve),
  };
}

/** "in the last 2s", "in the last 30s": the window, for messages. */
export function windowText(w: DropWindow): string {
  return `in the last ${Number(w.seconds.toFixed(1))}s`;
}

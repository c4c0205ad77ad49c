// What one agent pass hands to the next, and the small rules that move it on.
// Everything else a pass needs is read from the host again (level-based); only
// what must be compared across passes lives here. Pure: no I/O.
import type { Condition } from '../report/conditions.js';
import type { CounterSample } from '../report/drops.js';
import { fullDropsSince, type NetnsDrops } from '../report/netns-status.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import type { ConntrackCounters } from '../kernel/stats.js';
import type { NodeStatusInputs } from '../report/node-status.js';
import type { NodeConditionType, NodeStatusDoc } from '../api/v1alpha1/status.js';
import type { TableSummary } from '../kernel/table-summary.js';
import { NO_PRESSURE_RESPONSE, type PressureResponseState } from '../policy/pressure-response.js';

/** The counters (the host's, and each namespace's drops) drops are judged against. */
export interface DropBaseline {
  counters: CounterSample | null;
  netns: NetnsDrops | null;
  atMs: number;
}

/** The table breakdown (a dump of the whole table), kept between dumps. */
export interface TableBreakdown {
  summary: TableSummary | null;
  source: NodeStatusInputs['tableSource'];
  /** When the table was last read (or tried), ms since the epoch. */
  atMs: number;
}

export interface AgentState {
  dropHistory: DropHistory;
  /** Each namespace's drop counters at the last pass, by key: drops since then (for a full table) double max under autoSize. */
  lastPassDrops: PassDrops | null;
  /** Since when (ms) the table has been calm, for autoSize's give-back; null while it is not. */
  calmSinceMs: number | null;
  breakdown: TableBreakdown;
  conditions: Condition<(typeof NodeConditionType)[number]>[];
  /** The last status built: the publisher compares the new one with it. */
  status: NodeStatusDoc | null;
  /** Whether the policy's pressure response is in force (policy/pressure-response.ts). */
  pressureResponse: PressureResponseState;
  /** What DryRun last said it would change: said again only when that changes. */
  wouldChange: string;
  passesDone: number;
  lastPassError: string | null;
  /** When the last pass finished (or the loop started), ms since the epoch. */
  lastPassEndMs: number;
}

/** Before the first pass: nothing seen yet. */
export function initialState(): AgentState {
  return {
    dropHistory: [],
    lastPassDrops: null,
    calmSinceMs: null,
    breakdown: { summary: null, source: 'none', atMs: 0 },
    conditions: [],
    status: null,
    pressureResponse: NO_PRESSURE_RESPONSE,
    wouldChange: '',
    passesDone: 0,
    lastPassError: null,
    lastPassEndMs: 0,
  };
}

/** The table is dumped again once `everyMs` passed since the last try, and until one dump succeeded. */
export function breakdownDue(b: TableBreakdown, nowMs: number, everyMs: number): boolean {
  return b.summary === null || nowMs - b.atMs >= everyMs;
}

/**
 * The counters of recent passes, oldest first: drops are judged against the
 * newest of them at least one interval old, so over an interval or more
 * whenever a pass runs. One baseline moved on every interval did not do it:
 * a pass triggered just after the move (by the drop probe, a kmsg line)
 * judged a window of a few ms and cleared a full table's signal at once (a
 * namespace's drops were in the status for 35 ms, seen under load).
 */
export type DropHistory = readonly DropBaseline[];

/** What a pass at `nowMs` judges drops against: the newest sample an interval old or more; while none is that old, the oldest; null before any. */
export function dropBaselineAt(history: DropHistory, nowMs: number, intervalMs: number): DropBaseline | null {
  let base = history[0] ?? null;
  for (const sample of history) if (nowMs - sample.atMs >= intervalMs) base = sample;
  return base;
}

/** The history with `next` added, less what no later pass judges against (the samples before the baseline of a pass at `next`). */
export function recordDrops(history: DropHistory, next: DropBaseline, intervalMs: number): DropHistory {
  const all = [...history, next];
  return all.slice(all.indexOf(dropBaselineAt(all, next.atMs, intervalMs)!));
}

/** Each namespace's drop, insert_failed and early_drop counters at a pass, by key. */
export type PassDrops = ReadonlyMap<number, { drop: number; insertFailed: number; earlyDrop: number }>;

const dropsOf = (c: ConntrackCounters) => ({ drop: c.drop ?? 0, insertFailed: c.insertFailed ?? 0, earlyDrop: c.earlyDrop ?? 0 });

/** Each namespace's counters from the census; ours from the snapshot where the census could not read them (a kernel without the per-namespace stat file). */
export function passDrops(census: NetnsCensus, ownCounters: ConntrackCounters | null): PassDrops {
  const drops = new Map<number, { drop: number; insertFailed: number; earlyDrop: number }>();
  for (const r of census.namespaces) if (r.counters) drops.set(r.key, dropsOf(r.counters));
  const ours = census.namespaces.find((r) => r.ours);
  if (ours && !drops.has(ours.key) && ownCounters) drops.set(ours.key, dropsOf(ownCounters));
  return drops;
}

/**
 * The namespaces (keys) whose table was full between two passes' counters:
 * new connections dropped beyond the insertion races, or entries evicted to
 * make room (early_drop: no packet lost, but the table is full all the same).
 */
export function droppingFull(prev: PassDrops | null, now: PassDrops): number[] {
  return [...now]
    .filter(([key, c]) => {
      const before = prev?.get(key);
      return fullDropsSince(before, c) > 0 || (before !== undefined && c.earlyDrop > before.earlyDrop);
    })
    .map(([key]) => key);
}

/**
 * Since when the table has been calm: calm is no namespace filling up or
 * dropping for a full table, and autoSize's demand under max /
 * GIVE_BACK_BELOW. A pass that gave back starts the cooldown again, so max
 * halves at most once a cooldown.
 */
export function calmSince(prev: number | null, calm: boolean, gaveBack: boolean, nowMs: number): number | null {
  if (!calm) return null;
  return gaveBack ? nowMs : (prev ?? nowMs);
}

/** A pass must finish within three intervals, or the loop is stuck. */
export function stuckProblem(lastPassEndMs: number, nowMs: number, intervalMs: number): string | null {
  const late = nowMs - lastPassEndMs;
  return late > 3 * intervalMs + 60_000 ? `no reconcile pass finished for ${Math.round(late / 1000)}s` : null;
}

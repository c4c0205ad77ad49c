// The `namespaces` summary of a ConntrackStatus: every network namespace of
// the node in a bounded size (counts and at most five rows per list, whatever
// the number of pods), and which of them are full or under pressure now. Pure;
// the agent keeps each namespace's counters from the previous pass.
import type { NetnsCensus } from '../kernel/netns-census.js';
import type { PressureThresholds } from '../policy/normalize.js';
import { isOther, netnsEntries, type NetnsEntry } from './netns-report.js';
import type { NetnsRowDoc, NetnsSummaryDoc } from '../api/v1alpha1/status.js';

/** How many namespaces each list of the summary holds at most (the schema's bound). */
const NETNS_STATUS_ROWS = 5;

/** A pod as the API names it. */
export interface PodName {
  namespace: string;
  name: string;
}

/** The pod of a UID, where the agent knows the node's pods (in a cluster); undefined when it does not. */
export type PodNames = (uid: string) => PodName | undefined;

/** Each namespace's drop and insert_failed counters at a pass, by census key. */
export type NetnsDrops = ReadonlyMap<number, { drop: number; insertFailed: number }>;

export function netnsDrops(census: NetnsCensus): NetnsDrops {
  const out = new Map<number, { drop: number; insertFailed: number }>();
  for (const r of census.namespaces) if (r.counters) out.set(r.key, { drop: r.counters.drop ?? 0, insertFailed: r.counters.insertFailed ?? 0 });
  return out;
}

/**
 * Drops since `before` that were not insertion races (insert_failed rises
 * with drop for those): the namespace's table is full. 0 for a namespace
 * first seen now (no `before`), whose counters are since its creation.
 */
export function fullDropsSince(before: { drop: number; insertFailed: number } | undefined, now: { drop: number | null; insertFailed: number | null }): number {
  if (!before || now.drop === null) return 0;
  return Math.max(0, now.drop - before.drop - Math.max(0, (now.insertFailed ?? 0) - before.insertFailed));
}

function fullDrops(e: NetnsEntry, previous: NetnsDrops | null): number {
  return fullDropsSince(previous?.get(e.key), e);
}

/**
 * Drops for a full table since the previous pass over every namespace but the
 * agent's own (whose drops the node's own counters window counts), the host's
 * included when the agent runs elsewhere.
 */
export function otherNamespacesFullDrops(census: NetnsCensus, previous: NetnsDrops | null): number {
  return netnsEntries(census, null)
    .filter((e) => !e.ours)
    .reduce((sum, e) => sum + fullDrops(e, previous), 0);
}

function rowOf(e: NetnsEntry, dropsRising: number, podNames: PodNames | undefined): NetnsRowDoc {
  const pod = e.pod ? podNames?.(e.pod.uid) : undefined;
  return {
    ...(e.inode !== null ? { inode: e.inode } : {}),
    pid: e.pid,
    ...(e.entries !== null ? { entries: e.entries } : {}),
    ...(e.usagePercent !== null ? { usagePercent: e.usagePercent } : {}),
    ...(e.drop !== null ? { drop: e.drop } : {}),
    ...(dropsRising > 0 ? { dropsRising } : {}),
    ...(e.pod ? { podUid: e.pod.uid } : {}),
    ...(pod ? { podNamespace: pod.namespace, podName: pod.name } : {}),
  };
}

/** How a status row names its namespace: its inode where known, else a process in it (also what tells rows apart across passes). */
export const netnsRowName = (r: Pick<NetnsRowDoc, 'inode' | 'pid'>): string => (r.inode !== undefined ? String(r.inode) : `of pid ${r.pid}`);

export function buildNetnsStatus(
  census: NetnsCensus,
  previous: NetnsDrops | null,
  max: number | null,
  pressure: PressureThresholds,
  podNames?: PodNames,
): NetnsSummaryDoc {
  const all = netnsEntries(census, max);
  const rising = new Map(all.map((e) => [e.key, fullDrops(e, previous)]));
  const row = (e: NetnsEntry) => rowOf(e, rising.get(e.key)!, podNames);
  const others = all.filter(isOther);
  const read = all.filter((e) => e.entries !== null);
  return {
    count: all.length,
    ...(read.length ? { entries: read.reduce((sum, e) => sum + e.entries!, 0) } : {}),
    ...(census.slab ? { slabActiveObjects: census.slab.activeObjects } : {}),
    top: all.slice(0, NETNS_STATUS_ROWS).map(row),
    full: others
      .filter((e) => rising.get(e.key)! > 0)
      .sort((a, b) => rising.get(b.key)! - rising.get(a.key)!)
      .slice(0, NETNS_STATUS_ROWS)
      .map(row),
    // netnsEntries sorts by entries, and max is one for all: the fullest first.
    pressure: others
      .filter((e) => e.usagePercent !== null && e.usagePercent >= pressure.warningPercent)
      .slice(0, NETNS_STATUS_ROWS)
      .map(row),
  };
}

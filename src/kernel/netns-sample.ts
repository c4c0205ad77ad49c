// What the table watch reads between census passes, about once a second, so
// it must be cheap: one namespace's stat file through a process in it, our
// own namespace's counters, and which processes appeared since the last look
// (a stat of net/stat for each new pid only). See agent/table-watch.ts.
import { errnoCode } from '../errors.js';
import type { Host } from './host.js';
import { listPids, mapInBatches, readNetnsKey } from './processes.js';
import { readConntrackSlab } from './host-facts.js';
import { readConntrackStats, parseStatFile, type StatsSource } from './stats.js';

/** A namespace's entry count and the drop counters the watch compares sample to sample. */
export interface NetnsSample {
  entries: number | null;
  drop: number | null;
  insertFailed: number | null;
  /** Entries evicted to make room: the table is full too, though no packet was dropped. */
  earlyDrop: number | null;
}

/**
 * One namespace's figures through a process in it; 'gone' when that process
 * exited, null when its stat file cannot be read or parsed (a kernel without it).
 */
export async function readNetnsSample(host: Pick<Host, 'files' | 'paths'>, pid: string): Promise<NetnsSample | 'gone' | null> {
  try {
    const { entries, counters } = parseStatFile(await host.files.read(host.paths.statFile(pid)));
    return { entries, drop: counters?.drop ?? null, insertFailed: counters?.insertFailed ?? null, earlyDrop: counters?.earlyDrop ?? null };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' && 'gone' in (await readNetnsKey(host, pid))) return 'gone';
    return null;
  }
}

/**
 * Our own namespace: the stat file, or `conntrack -S` where the kernel has
 * none (then the count comes from nf_conntrack_count). `source` says which
 * answered: a spawned command is worth doing less often.
 */
export async function readOwnSample(host: Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot'>): Promise<NetnsSample & { source: StatsSource | null }> {
  const stats = await readConntrackStats(host);
  let entries = stats.entries;
  if (entries === null) {
    const text = await host.files.read(host.paths.sysctl('nf_conntrack_count')).catch(() => null);
    entries = text === null || !/^\d+$/.test(text.trim()) ? null : Number(text.trim());
  }
  const c = stats.counters;
  return { entries, drop: c?.drop ?? null, insertFailed: c?.insertFailed ?? null, earlyDrop: c?.earlyDrop ?? null, source: stats.source };
}

/**
 * The pids in the proc root now, and the namespace key of each one not in
 * `known` (pid -> key from earlier looks): one stat per new pid. Pids that
 * exit before their stat, or whose net/stat cannot be looked at, are left out.
 */
export async function lookForNewPids(host: Pick<Host, 'files' | 'paths'>, known: ReadonlyMap<number, number>): Promise<Map<number, number>> {
  const now = new Map<number, number>();
  const fresh: string[] = [];
  for (const name of await listPids(host, true)) {
    const key = known.get(Number(name));
    if (key === undefined) fresh.push(name);
    else now.set(Number(name), key);
  }
  // The first look stats every pid: in batches that let the health and metrics server in.
  const found = await mapInBatches(fresh, (pid) => readNetnsKey(host, pid));
  fresh.forEach((pid, i) => {
    const f = found[i]!;
    if ('key' in f) now.set(Number(pid), f.key);
  });
  return now;
}

/** Active objects of the nf_conntrack slab, every namespace's entries (and freed ones not yet reused); null where unreadable (root only). */
export async function readSlabActive(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<number | null> {
  return (await readConntrackSlab(host)).value?.activeObjects ?? null;
}

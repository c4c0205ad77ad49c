// Walking <proc-root>/<pid>: the pid list and a bounded fan-out over it. A big
// host has tens of thousands of pids and a file descriptor limit, so reads go
// out in batches rather than all at once.
import { setImmediate } from 'node:timers/promises';
import type { Host } from './host.js';

const PID_BATCH = 256;

/** The pids in the proc root, ascending unless `unordered`. Throws what list() throws (ENOENT, EACCES). */
export async function listPids(host: Pick<Host, 'files' | 'paths'>, unordered = false): Promise<string[]> {
  const pids = (await host.files.list(host.paths.proc())).filter((n) => /^\d+$/.test(n));
  return unordered ? pids : pids.sort((a, b) => Number(a) - Number(b));
}

/**
 * fn over items, at most `size` at a time; results in the items' order. Yields
 * to the event loop between batches: some reads are synchronous (readLink), and
 * a pass over 50,000 pids must not hold up the agent's health and metrics server.
 */
export async function mapInBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, size = PID_BATCH): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    if (i > 0) await setImmediate();
    out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  }
  return out;
}

// Walking <proc-root>/<pid>: the pid list and a bounded fan-out over it. A big
// host has tens of thousands of pids and a file descriptor limit, so reads go
// out in batches rather than all at once. A pass walks them once
// (walkProcesses): the kube-proxy/kubelet scan and the namespace census both
// read the one walk.
import { setImmediate } from 'node:timers/promises';
import { errnoCode } from '../errors.js';
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

const GONE = new Set(['ENOENT', 'ESRCH']);

/** A process's network namespace key (the inode of <pid>/net/stat); gone when the process exited. */
export type NetnsKey = { key: number } | { gone: true } | { error: unknown };

export async function readNetnsKey(host: Pick<Host, 'files' | 'paths'>, pid: string): Promise<NetnsKey> {
  try {
    return { key: await host.files.inode(host.paths.netStat(pid)) };
  } catch (err) {
    return GONE.has(errnoCode(err) ?? '') ? { gone: true } : { error: err };
  }
}

/**
 * Every pid of the proc root, ascending, with what was read of each in the
 * walk: a pass reads both (the kube-proxy/kubelet scan needs the comms, the
 * census the namespace keys); a reader run on its own reads what is missing.
 */
interface ProcessWalk {
  pids: string[];
  /** <pid>/comm without its newline; '' where it could not be read (the process exited). */
  comms?: string[];
  netnsKeys?: NetnsKey[];
}

/** A walk; the error of listing the proc root when it could not be listed. */
export type ProcessList = { walk: ProcessWalk } | { error: unknown };

export function readComm(host: Pick<Host, 'files' | 'paths'>, pid: string): Promise<string> {
  return host.files.read(host.paths.comm(pid)).then(
    (c) => c.trim(),
    () => '',
  );
}

/** List the pids and read, per pid and in one batched walk, what is asked. Never throws. */
export async function walkProcesses(host: Pick<Host, 'files' | 'paths'>, reads: { comms?: boolean; netnsKeys?: boolean }): Promise<ProcessList> {
  let pids: string[];
  try {
    pids = await listPids(host);
  } catch (error) {
    return { error };
  }
  const read = await mapInBatches(pids, (pid) =>
    Promise.all([reads.comms ? readComm(host, pid) : undefined, reads.netnsKeys ? readNetnsKey(host, pid) : undefined]),
  );
  return {
    walk: {
      pids,
      ...(reads.comms ? { comms: read.map(([comm]) => comm!) } : {}),
      ...(reads.netnsKeys ? { netnsKeys: read.map(([, key]) => key!) } : {}),
    },
  };
}

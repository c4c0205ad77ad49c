// Tests that drive a namespace's table full lower the global nf_conntrack_max
// for a few seconds (and tests where the agent sizes the table write the
// buckets too). node's test runner runs test files in parallel, so two such
// tests at once would refill under each other, and one could "restore" the
// other's lowered value, leaving the host at a few thousand entries. A lock
// directory held from lowering to restoring serialises them across processes;
// a lock whose holder has died is taken over.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAX_PATH = '/proc/sys/net/netfilter/nf_conntrack_max';
const BUCKETS_PATH = '/proc/sys/net/netfilter/nf_conntrack_buckets';
const COUNT_PATH = '/proc/sys/net/netfilter/nf_conntrack_count';
const LOCK = join(tmpdir(), 'conntrack-operator-tests-global-max.lock');
const WAIT_MS = 180_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquire(): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number(await readFile(join(LOCK, 'pid'), 'utf8').catch(() => ''));
    // No pid yet: the holder is between mkdir and writeFile; wait like for a live one.
    if (holder > 0 && !alive(holder)) await takeOverFromDead(holder);
    else if (Date.now() > deadline) throw new Error(`${LOCK}: still held by pid ${holder || '?'} after ${WAIT_MS / 1000} s`);
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * A holder that died (killed, or no chance to run its finally) may have left
 * the table as it lowered it: put back what it recorded before, so that the
 * next holder does not take a lowered table for the machine's own.
 */
async function takeOverFromDead(dead: number): Promise<void> {
  // Two waiters may both see the dead holder: the one that renames the lock away restores; the other finds it gone.
  const claimed = `${LOCK}.dead.${process.pid}`;
  if (
    !(await rename(LOCK, claimed).then(
      () => true,
      () => false,
    ))
  )
    return;
  if (Number(await readFile(join(claimed, 'pid'), 'utf8').catch(() => '')) !== dead) {
    await rename(claimed, LOCK).catch(() => undefined); // a live holder's lock, taken after the dead one's: give it back
    return;
  }
  const recorded = await readFile(join(claimed, 'original'), 'utf8').catch(() => null);
  if (recorded !== null) {
    const { max, buckets } = JSON.parse(recorded) as { max: string; buckets: string };
    await restoreTable(max, buckets);
    process.stderr.write(`global-max lock: its holder died; nf_conntrack_max ${max} and buckets ${buckets} put back\n`);
  }
  await rm(claimed, { recursive: true, force: true });
}

/** Buckets first when they grow back, max first when they shrink (as the planner orders them); both, whatever failed. */
async function restoreTable(oldMax: string, oldBuckets: string): Promise<void> {
  const grow = Number(oldBuckets) >= Number((await readFile(BUCKETS_PATH, 'utf8')).trim());
  const order: Array<[string, string]> = [
    [BUCKETS_PATH, oldBuckets],
    [MAX_PATH, oldMax],
  ];
  for (const [path, value] of grow ? order : order.reverse()) {
    await writeFile(path, value).catch((err: unknown) => process.stderr.write(`restoring ${path}: ${String(err)}\n`));
  }
}

/** The global table size as it was before, for `fn` to start from. */
export interface GlobalTable {
  max: number;
  buckets: number;
}

/**
 * Runs `fn` holding the lock, with nf_conntrack_max and the bucket count
 * saved before and put back after, whatever happens and whoever changed them
 * in between (`fn`, or an agent it ran that sized the table): for tests and
 * benches that let the agent (or themselves) write the global table keys.
 */
export async function withGlobalTable<T>(fn: (before: GlobalTable) => Promise<T>): Promise<T> {
  await acquire();
  try {
    const oldMax = (await readFile(MAX_PATH, 'utf8')).trim();
    const oldBuckets = (await readFile(BUCKETS_PATH, 'utf8')).trim();
    await writeFile(join(LOCK, 'original'), JSON.stringify({ max: oldMax, buckets: oldBuckets }));
    try {
      return await fn({ max: Number(oldMax), buckets: Number(oldBuckets) });
    } finally {
      await restoreTable(oldMax, oldBuckets);
    }
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}

/**
 * Runs `fn` with the global max lowered to the host namespace's count plus
 * `room` (low enough to fill a namespace in seconds), then restores the old
 * value, whatever happens.
 */
export async function withLoweredMax<T>(fn: (max: number) => Promise<T>, room = 4096): Promise<T> {
  return withGlobalTable(async () => {
    const max = room + Number((await readFile(COUNT_PATH, 'utf8')).trim());
    await writeFile(MAX_PATH, String(max));
    return fn(max);
  });
}

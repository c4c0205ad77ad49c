// Every network namespace on the node that has a process, with its own
// conntrack count and counters, read without entering it and without ptrace
// rights: one pass over <proc-root>/<pid>/net/stat finds the namespaces (one
// stat per pid: the directory's inode is one per namespace, shared by its
// processes), then only one process per namespace has its stat file, cgroup
// and ns/net link read. The host namespace is one row among them. Each
// namespace has its own count checked against the global nf_conntrack_max;
// the host's nf_conntrack_count shows none of the others.
//
// Why not readlink <pid>/ns/net, which names the namespace as kmsg and lsns
// do: the kernel asks for ptrace read access to another process for it
// (CAP_SYS_PTRACE, which would also let the agent read any process's memory).
// That name (the nsfs inode) is still read for one process per namespace and
// is null where refused; our own is always readable. The two numbers are
// different objects' inodes: never derive one from the other.

import { errnoCode, errorText } from '../errors.js';
import { podUidFromCgroup } from './cgroup-pod.js';
import { parseNetnsInode, readConntrackSlab, type ConntrackSlab } from './host-facts.js';
import type { Host } from './host.js';
import type { KernelFiles } from './kernel-files.js';
import { mapInBatches, readNetnsKey, walkProcesses, type ProcessList } from './processes.js';
import { parseStatFile, type ConntrackCounters } from './stats.js';
import { unreadable, type Unreadable } from './unreadable.js';

export interface NetnsCensusRow {
  /** The census key: the inode of /proc/<pid>/net/stat, the same for every process of the namespace. */
  key: number;
  /** The nsfs inode (what `ns/net` links to, kmsg's "table full in netns N" and lsns name); null where reading the link was refused. */
  inode: number | null;
  /** The process whose files were read for it (the lowest pid still alive in it): `nsenter -t PID -n` enters it. */
  pid: number;
  host: boolean;
  /** The namespace this process runs in: the rest of a report (count, counters, conditions) already shows its figures. */
  ours: boolean;
  /** That namespace's nf_conntrack_count (the stat file's `entries`); null where the stat file could not be read. */
  entries: number | null;
  /** Its counters summed over CPUs; null with entries. */
  counters: ConntrackCounters | null;
  /** The pod's UID from the process's kubelet cgroup; null outside any pod (the host, a test namespace). */
  podUid: string | null;
}

export interface NetnsCensus {
  /** In the order of their lowest pid. */
  namespaces: NetnsCensusRow[];
  /** The host namespace's key; null when it cannot be told (see hostKeyOf). */
  hostKey: number | null;
  /** Pids listed in the proc root. */
  processes: number;
  /** Pids whose net/stat could not be looked at (neither found nor gone): their namespaces may be missing. */
  unreadableProcesses: number;
  /** Pids that exited during the pass: skipped. */
  vanishedProcesses: number;
  /** Namespaces whose nsfs inode could not be read (readlink of ns/net refused without ptrace rights). */
  inodesUnread: number;
  /** The nf_conntrack slab, which counts every namespace's objects; null when unreadable (root only) or absent. */
  slab: ConntrackSlab | null;
  unreadable: Unreadable[];
}

/** Our own namespace as src/kernel/host-facts.ts's readNetnsFacts tells it (HostSnapshot.netns). */
export interface SelfNetns {
  host: boolean | null;
  /** Our nsfs inode (our own ns/net link is always readable). */
  inode: number | null;
}

const GONE = new Set(['ENOENT', 'ESRCH']);

/**
 * The host namespace's key: ours when readNetnsFacts says we are in it;
 * otherwise pid 1's of the proc root when it differs from ours (a pod reading
 * the host's /proc as --proc-root /host/proc: pid 1 there is the host's init).
 * When pid 1 shares our non-host namespace (a container's own /proc), the
 * host's is not visible: null.
 */
export function hostKeyOf(selfHost: boolean | null, ourKey: number | null, pid1Key: number | null): number | null {
  if (selfHost === true) return ourKey;
  if (selfHost === false && pid1Key !== null && pid1Key !== ourKey) return pid1Key;
  return null;
}

/** The nsfs inode behind a process's ns/net link; the error where refused (EACCES without ptrace rights on it). */
async function readNsfsInode(files: KernelFiles, path: string): Promise<{ inode: number } | { error: unknown }> {
  try {
    const inode = parseNetnsInode(await files.readLink(path));
    return inode === null ? { error: Object.assign(new Error(`not a net namespace link: ${path}`), { code: 'EINVAL' }) } : { inode };
  } catch (err) {
    return { error: err };
  }
}

type Figures = Pick<NetnsCensusRow, 'entries' | 'counters' | 'podUid'>;

/** Read one process's stat file and cgroup; 'gone' when it exited before they could be read. */
async function readFigures(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, pid: string, problems: Map<string, Unreadable>): Promise<Figures | 'gone'> {
  const { files, paths, isRoot } = host;
  const [stat, cgroup] = await Promise.allSettled([files.read(paths.statFile(pid)), files.read(paths.cgroup(pid))]);
  if (stat.status === 'rejected') {
    // ENOENT is either an exited process or a kernel without the stat file: the ns link tells which.
    if (GONE.has(errnoCode(stat.reason) ?? '') && 'gone' in (await readNetnsKey(host, pid))) return 'gone';
    const u = unreadable('per-namespace conntrack stat file', paths.statFile(pid), stat.reason, isRoot);
    problems.set(`stat ${u.code}`, problems.get(`stat ${u.code}`) ?? u);
  }
  let parsed: ReturnType<typeof parseStatFile> | null = null;
  if (stat.status === 'fulfilled') {
    try {
      parsed = parseStatFile(stat.value);
    } catch (err) {
      problems.set(
        'stat parse',
        problems.get('stat parse') ?? {
          what: `per-namespace conntrack stat file (${errorText(err)})`,
          path: paths.statFile(pid),
          code: 'EINVAL',
          needsRoot: false,
        },
      );
    }
  }
  return {
    entries: parsed?.entries ?? null,
    counters: parsed?.counters ?? null,
    podUid: cgroup.status === 'fulfilled' ? podUidFromCgroup(cgroup.value) : null,
  };
}

/**
 * One census pass on its own (the doctor's readings): walks the pids, then
 * reads the slab last, so entries added while the namespaces were read are in
 * its figure too. Never throws: what could not be read is counted and named in
 * `unreadable` (the slab's EACCES without root is left to the snapshot, which
 * names /proc/slabinfo already). An agent pass reads it with the snapshot
 * instead (snapshot.ts, readHostReading): one walk, one slab read.
 */
export async function readNetnsCensus(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, self: SelfNetns): Promise<NetnsCensus> {
  const census = await censusOfWalk(host, self, await walkProcesses(host, { netnsKeys: true }));
  return { ...census, slab: (await readConntrackSlab(host)).value };
}

/** The census from a pass's walk of the pids (their namespace keys); all but the slab, which the caller reads last. */
export async function censusOfWalk(
  host: Pick<Host, 'files' | 'paths' | 'isRoot'>,
  self: SelfNetns,
  processes: ProcessList,
): Promise<Omit<NetnsCensus, 'slab'>> {
  const { files, paths, isRoot } = host;
  const census: Omit<NetnsCensus, 'slab'> = {
    namespaces: [],
    hostKey: null,
    processes: 0,
    unreadableProcesses: 0,
    vanishedProcesses: 0,
    inodesUnread: 0,
    unreadable: [],
  };
  if ('error' in processes) {
    census.unreadable.push(unreadable('process list (network namespaces)', paths.proc(), processes.error, isRoot));
    return census;
  }
  const { pids } = processes.walk;
  census.processes = pids.length;

  // Pass 1 (the walk's, when it read them): each pid's namespace. Only the pids are kept per key, so a
  // namespace whose first process exits before pass 2 falls back to its next.
  const [keys, ours] = await Promise.all([processes.walk.netnsKeys ?? mapInBatches(pids, (pid) => readNetnsKey(host, pid)), readNetnsKey(host, 'self')]);
  const byKey = new Map<number, string[]>();
  let firstDenied: { pid: string; error: unknown } | undefined;
  for (const [i, k] of keys.entries()) {
    const pid = pids[i]!;
    if ('key' in k) {
      const list = byKey.get(k.key);
      if (list) list.push(pid);
      else byKey.set(k.key, [pid]);
    } else if ('gone' in k) {
      census.vanishedProcesses++;
    } else {
      census.unreadableProcesses++;
      firstDenied ??= { pid, error: k.error };
    }
  }
  if (firstDenied) {
    census.unreadable.push(
      unreadable(
        `network namespaces of ${census.unreadableProcesses} process(es) (the first shown)`,
        paths.netStat(firstDenied.pid),
        firstDenied.error,
        isRoot,
      ),
    );
  }
  const ourKey = 'key' in ours ? ours.key : null;
  const pid1 = pids[0] === '1' ? keys[0] : undefined;
  census.hostKey = hostKeyOf(self.host, ourKey, pid1 && 'key' in pid1 ? pid1.key : null);

  // Pass 2: one process per namespace.
  const problems = new Map<string, Unreadable>();
  let firstRefused: { pid: string; error: unknown } | undefined;
  const rows = await mapInBatches([...byKey], async ([key, candidates]): Promise<NetnsCensusRow | null> => {
    for (const pid of candidates) {
      const figures = await readFigures(host, pid, problems);
      if (figures === 'gone') {
        census.vanishedProcesses++;
        continue;
      }
      let inode = key === ourKey ? self.inode : null;
      if (key !== ourKey) {
        const link = await readNsfsInode(files, paths.netns(pid));
        if ('inode' in link) inode = link.inode;
        else if (!GONE.has(errnoCode(link.error) ?? '')) {
          census.inodesUnread++;
          firstRefused ??= { pid, error: link.error };
        }
      }
      return { key, inode, pid: Number(pid), host: key === census.hostKey, ours: key === ourKey, ...figures };
    }
    return null; // every process of it exited: the namespace is gone (or has no process left to read it through)
  });
  census.namespaces = rows.filter((r) => r !== null);
  if (firstRefused) {
    census.unreadable.push(
      unreadable(
        `network namespace names (ns/net inodes) of ${census.inodesUnread} namespace(s), the first shown: reading another process's link needs ptrace rights; they are counted, named by a pid`,
        paths.netns(firstRefused.pid),
        firstRefused.error,
        isRoot,
      ),
    );
  }
  census.unreadable.push(...problems.values());
  return census;
}

// Every network namespace on the node that has a process, with its own
// conntrack count and counters, read without entering it: one pass over
// <proc-root>/<pid>/ns/net finds the namespaces (one readlink per pid), then
// only one process per namespace has its stat file and cgroup read. The host
// namespace is one row among them. Each namespace has its own count checked
// against the global nf_conntrack_max; the host's nf_conntrack_count shows none
// of the others.
import { errnoCode, errorText } from '../errors.js';
import { podUidFromCgroup } from './cgroup-pod.js';
import { parseNetnsInode, readConntrackSlab, type ConntrackSlab } from './host-facts.js';
import type { Host } from './host.js';
import type { KernelFiles } from './kernel-files.js';
import { listPids, mapInBatches } from './processes.js';
import { parseStatFile, type ConntrackCounters } from './stats.js';
import { unreadable, type Unreadable } from './unreadable.js';

export interface NetnsRow {
  /** The namespace's inode: what `ns/net` links to and what kmsg's "table full in netns N" names. */
  inode: number;
  /** The process whose files were read for it (the lowest pid still alive in it). */
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
  namespaces: NetnsRow[];
  /** The host namespace's inode; null when it cannot be told (see hostInodeOf). */
  hostInode: number | null;
  /** Pids listed in the proc root. */
  processes: number;
  /** Pids whose ns/net could not be read (EACCES without ptrace rights on them): their namespaces may be missing. */
  unreadableProcesses: number;
  /** Pids that exited during the pass: skipped. */
  vanishedProcesses: number;
  /** The nf_conntrack slab, which counts every namespace's objects; null when unreadable (root only) or absent. */
  slab: ConntrackSlab | null;
  unreadable: Unreadable[];
}

/** Our own namespace as src/kernel/host-facts.ts's readNetnsFacts tells it (HostSnapshot.netns). */
export interface SelfNetns {
  host: boolean | null;
  inode: number | null;
}

const GONE = new Set(['ENOENT', 'ESRCH']);

/**
 * The host namespace: ours when readNetnsFacts says we are in it; otherwise pid
 * 1's of the proc root when it differs from ours (a pod reading the host's
 * /proc as --proc-root /host/proc: pid 1 there is the host's init). When pid 1
 * shares our non-host namespace (a container's own /proc), the host's is not
 * visible: null.
 */
export function hostInodeOf(self: SelfNetns, pid1Inode: number | null): number | null {
  if (self.host === true) return self.inode;
  if (self.host === false && pid1Inode !== null && pid1Inode !== self.inode) return pid1Inode;
  return null;
}

type LinkResult = { inode: number } | { gone: true } | { error: unknown };

async function readInode(files: KernelFiles, path: string): Promise<LinkResult> {
  try {
    const inode = parseNetnsInode(await files.readLink(path));
    return inode === null ? { error: Object.assign(new Error(`not a net namespace link: ${path}`), { code: 'EINVAL' }) } : { inode };
  } catch (err) {
    return GONE.has(errnoCode(err) ?? '') ? { gone: true } : { error: err };
  }
}

type Figures = Pick<NetnsRow, 'entries' | 'counters' | 'podUid'>;

/** Read one process's stat file and cgroup; 'gone' when it exited before they could be read. */
async function readFigures(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, pid: string, problems: Map<string, Unreadable>): Promise<Figures | 'gone'> {
  const { files, paths, isRoot } = host;
  const [stat, cgroup] = await Promise.allSettled([files.read(paths.statFile(pid)), files.read(paths.cgroup(pid))]);
  if (stat.status === 'rejected') {
    // ENOENT is either an exited process or a kernel without the stat file: the ns link tells which.
    if (GONE.has(errnoCode(stat.reason) ?? '') && 'gone' in (await readInode(files, paths.netns(pid)))) return 'gone';
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
 * One census pass. Never throws: what could not be read is counted and named
 * in `unreadable` (the slab's EACCES without root is left to the snapshot, which names /proc/slabinfo already).
 */
export async function readNetnsCensus(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, self: SelfNetns): Promise<NetnsCensus> {
  const { files, paths, isRoot } = host;
  const census: NetnsCensus = { namespaces: [], hostInode: null, processes: 0, unreadableProcesses: 0, vanishedProcesses: 0, slab: null, unreadable: [] };
  let pids: string[];
  try {
    pids = await listPids(host);
  } catch (err) {
    census.unreadable.push(unreadable('process list (network namespaces)', paths.proc(), err, isRoot));
    return { ...census, slab: (await readConntrackSlab(host)).value };
  }
  census.processes = pids.length;

  // Pass 1: each pid's namespace. Only the pids are kept per inode, so a
  // namespace whose first process exits before pass 2 falls back to its next.
  const links = await mapInBatches(pids, (pid) => readInode(files, paths.netns(pid)));
  const byInode = new Map<number, string[]>();
  let firstDenied: { pid: string; error: unknown } | undefined;
  for (const [i, link] of links.entries()) {
    const pid = pids[i]!;
    if ('inode' in link) {
      const list = byInode.get(link.inode);
      if (list) list.push(pid);
      else byInode.set(link.inode, [pid]);
    } else if ('gone' in link) {
      census.vanishedProcesses++;
    } else {
      census.unreadableProcesses++;
      firstDenied ??= { pid, error: link.error };
    }
  }
  if (firstDenied) {
    census.unreadable.push(
      unreadable(`network namespaces of ${census.unreadableProcesses} process(es) (the first shown)`, paths.netns(firstDenied.pid), firstDenied.error, isRoot),
    );
  }
  const pid1 = pids[0] === '1' ? links[0] : undefined;
  census.hostInode = hostInodeOf(self, pid1 && 'inode' in pid1 ? pid1.inode : null);

  // Pass 2: one process per namespace.
  const problems = new Map<string, Unreadable>();
  const rows = await mapInBatches([...byInode], async ([inode, candidates]): Promise<NetnsRow | null> => {
    for (const pid of candidates) {
      const figures = await readFigures(host, pid, problems);
      if (figures === 'gone') {
        census.vanishedProcesses++;
        continue;
      }
      return { inode, pid: Number(pid), host: inode === census.hostInode, ours: inode === self.inode, ...figures };
    }
    return null; // every process of it exited: the namespace is gone (or has no process left to read it through)
  });
  census.namespaces = rows.filter((r) => r !== null);
  census.unreadable.push(...problems.values());
  // The slab last, so entries added while the namespaces were read are in its figure too.
  census.slab = (await readConntrackSlab(host)).value;
  return census;
}

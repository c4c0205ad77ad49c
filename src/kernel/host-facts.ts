// Facts about the host around the table: the real per-entry memory cost,
// RAM, kernel release, whether the module is loaded, which network namespace
// we are in, and whether kube-proxy (another writer of these keys) or kubelet
// (a Kubernetes node) runs.
// Each reader returns null plus an Unreadable instead of throwing.
import type { Host } from './host.js';
import { mapInBatches, readComm, walkProcesses, type ProcessList } from './processes.js';
import { unreadable, type Unreadable } from './unreadable.js';

export interface Fact<T> {
  value: T | null;
  unreadable?: Unreadable;
}

async function readFact<T>(host: Pick<Host, 'files' | 'isRoot'>, path: string, what: string, parse: (text: string) => T | null): Promise<Fact<T>> {
  try {
    return { value: parse(await host.files.read(path)) };
  } catch (err) {
    return { value: null, unreadable: unreadable(what, path, err, host.isRoot) };
  }
}

/**
 * The nf_conntrack slab, counted over every network namespace. Active objects
 * bound the live entries from above, they do not equal them: the cache is
 * SLAB_TYPESAFE_BY_RCU, so a freed entry stays an active object until the
 * allocator reuses it.
 */
export interface ConntrackSlab {
  activeObjects: number;
  totalObjects: number;
  objectSize: number;
}

/** The nf_conntrack line of /proc/slabinfo; null when the slab is absent. */
export function parseConntrackSlab(slabinfo: string): ConntrackSlab | null {
  const line = slabinfo.split('\n').find((l) => l.startsWith('nf_conntrack '));
  // name active_objs num_objs objsize ...
  const [activeObjects, totalObjects, objectSize] = (line?.trim().split(/\s+/).slice(1, 4) ?? []).map(Number);
  const counts = [activeObjects, totalObjects].every((v) => Number.isInteger(v) && v! >= 0);
  return counts && Number.isInteger(objectSize) && objectSize! > 0
    ? { activeObjects: activeObjects!, totalObjects: totalObjects!, objectSize: objectSize! }
    : null;
}

/** MemTotal of /proc/meminfo in bytes (the file says kB, meaning KiB). */
function parseMemTotalBytes(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

/** /proc/slabinfo is root-only (mode 0400): EACCES without root. `what` names it where unreadable. */
export function readConntrackSlab(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, what = 'nf_conntrack slab'): Promise<Fact<ConntrackSlab>> {
  return readFact(host, host.paths.slabinfo(), what, parseConntrackSlab);
}

export function readMemTotalBytes(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<Fact<number>> {
  return readFact(host, host.paths.meminfo(), 'MemTotal', parseMemTotalBytes);
}

export function readKernelRelease(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<Fact<string>> {
  return readFact(host, host.paths.osRelease(), 'kernel release', (t) => t.trim() || null);
}

/** Loaded (or built in) when /sys/module/nf_conntrack exists or the netfilter dir has nf_conntrack_ keys. */
export async function isConntrackLoaded(host: Pick<Host, 'files' | 'paths'>, sysctlNames: string[]): Promise<boolean> {
  if (sysctlNames.some((n) => n.startsWith('nf_conntrack_'))) return true;
  try {
    await host.files.list(host.paths.moduleDir());
    return true;
  } catch {
    return false;
  }
}

/** The inode in an ns link text "net:[4026531833]". */
export function parseNetnsInode(link: string): number | null {
  const m = /^net:\[(\d+)\]$/.exec(link.trim());
  return m ? Number(m[1]) : null;
}

export interface NetnsFacts {
  /** Our network namespace's inode (the number kernels print in "table full in netns N"). */
  inode: number | null;
  /** True when ns/net of self and of pid 1 are the same; null when either link cannot be read. */
  host: boolean | null;
  unreadable: Unreadable[];
}

/**
 * The kernel makes nf_conntrack_max read-only (mode 0444) in every network
 * namespace but the initial one, whoever reads it. null when conntrack is not
 * loaded (then the ns links of self and pid 1 are compared).
 */
async function hostByMaxMode(host: Pick<Host, 'files' | 'paths'>): Promise<boolean | null> {
  try {
    return ((await host.files.mode(host.paths.sysctl('nf_conntrack_max'))) & 0o222) !== 0;
  } catch {
    return null;
  }
}

/** Whether this is the host network namespace, and our namespace's inode. Reading pid 1's link needs ptrace rights: EACCES in many sandboxes, even as root. */
export async function readNetnsFacts(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<NetnsFacts> {
  const { files, paths, isRoot } = host;
  const read = async (pid: string): Promise<string | Unreadable> => {
    try {
      return await files.readLink(paths.netns(pid));
    } catch (err) {
      return unreadable(`network namespace of ${pid === 'self' ? 'this process' : `pid ${pid}`}`, paths.netns(pid), err, isRoot);
    }
  };
  const [self, init] = await Promise.all([read('self'), read('1')]);
  const problems = [self, init].filter((x): x is Unreadable => typeof x !== 'string');
  // The kernel's own answer first: pid 1 may share our namespace without being the host's (a container without hostPID).
  const byMode = await hostByMaxMode(host);
  const hostNetns = byMode ?? (typeof self === 'string' && typeof init === 'string' ? self === init : null);
  return {
    inode: typeof self === 'string' ? parseNetnsInode(self) : null,
    host: hostNetns,
    // Pid 1's link is only worth naming when nothing else could tell.
    unreadable: hostNetns === null ? problems : problems.filter((p) => p.path !== paths.netns('1')),
  };
}

export interface KubeProxyFacts {
  running: boolean;
  pids: number[];
}

export interface KubernetesProcesses {
  kubeProxy: KubeProxyFacts;
  /** kubelet runs here: this host is a Kubernetes node, however the agent was started. */
  kubeletRunning: boolean;
}

/** kube-proxy's and kubelet's pids, by <pid>/comm (from the walk when it read them); a pid that exited during the walk has comm ''. */
export async function kubernetesProcesses(processes: ProcessList, host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<Fact<KubernetesProcesses>> {
  if ('error' in processes) {
    return { value: null, unreadable: unreadable('process list (kube-proxy, kubelet)', host.paths.proc(), processes.error, host.isRoot) };
  }
  const { pids } = processes.walk;
  const comms = processes.walk.comms ?? (await mapInBatches(pids, (pid) => readComm(host, pid)));
  const kubeProxyPids = pids.filter((_, i) => comms[i] === 'kube-proxy').map(Number);
  return { value: { kubeProxy: { running: kubeProxyPids.length > 0, pids: kubeProxyPids }, kubeletRunning: comms.includes('kubelet') } };
}

/** The scan on its own, outside a pass (the reconciler's check for another writer when it finds drift). */
export async function findKubernetesProcesses(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<Fact<KubernetesProcesses>> {
  return kubernetesProcesses(await walkProcesses(host, { comms: true }), host);
}

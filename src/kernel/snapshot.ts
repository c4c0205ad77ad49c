// One read of everything the doctor and the status report need from the host,
// as one plain object. Never throws for a missing module or file: a host
// without conntrack is "no data" (moduleLoaded false, nulls), and whatever
// could not be read is listed in `unreadable` with whether root would help.
import {
  isConntrackLoaded,
  kubernetesProcesses,
  readConntrackSlab,
  readKernelRelease,
  readMemTotalBytes,
  readNetnsFacts,
  type ConntrackSlab,
  type Fact,
  type KubeProxyFacts,
} from './host-facts.js';
import type { Host } from './host.js';
import { censusOfWalk, type NetnsCensus } from './netns-census.js';
import { walkProcesses, type ProcessList } from './processes.js';
import { readConntrackStats, type ConntrackStats } from './stats.js';
import { readConntrackSysctls, readHashsize } from './sysctls.js';
import type { Unreadable } from './unreadable.js';

interface TableFacts {
  count: number | null;
  max: number | null;
  /** nf_conntrack_buckets (sysctl). */
  buckets: number | null;
  /** The nf_conntrack hashsize module parameter; equals buckets on current kernels. */
  hashsize: number | null;
}

export interface HostSnapshot {
  kernelRelease: string | null;
  moduleLoaded: boolean;
  netns: { host: boolean | null; inode: number | null };
  table: TableFacts;
  /** Every numeric nf_conntrack_* sysctl present, by file name. */
  sysctls: Record<string, number>;
  stats: Omit<ConntrackStats, 'unreadable'>;
  memory: { memTotalBytes: number | null; slabObjectSize: number | null };
  kubeProxy: KubeProxyFacts | null;
  /** kubelet runs here (a Kubernetes node); absent when the process list could not be read. */
  kubeletRunning?: boolean;
  unreadable: Unreadable[];
}

type SnapshotHost = Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot'>;

/** Read the host's conntrack facts once (the doctor's reading). Spawns at most `conntrack -S` (only when the stat file is missing). */
export async function readHostSnapshot(host: SnapshotHost): Promise<HostSnapshot> {
  const facts = await readFacts(host, await walkProcesses(host, { comms: true }));
  return snapshotOf(facts, await readSlab(host, facts.moduleLoaded));
}

/** What a pass reads of the host: the snapshot and (with the module loaded) every namespace's census. */
export interface HostReading {
  snapshot: HostSnapshot;
  census: NetnsCensus | null;
}

/**
 * A pass's reading: every pid walked once (kube-proxy/kubelet and the
 * census's namespace keys from the one walk), /proc/slabinfo read once and
 * last, so entries added while the namespaces were read are in its figure too.
 */
export async function readHostReading(host: SnapshotHost): Promise<HostReading> {
  const processes = await walkProcesses(host, { comms: true, netnsKeys: true });
  const facts = await readFacts(host, processes);
  const census = facts.moduleLoaded ? await censusOfWalk(host, facts.netns, processes) : null;
  const slab = await readSlab(host, facts.moduleLoaded);
  return { snapshot: snapshotOf(facts, slab), census: census && { ...census, slab: slab.value } };
}

/** Without the module there is no slab to read: not an error. */
function readSlab(host: SnapshotHost, moduleLoaded: boolean): Promise<Fact<ConntrackSlab>> {
  return moduleLoaded ? readConntrackSlab(host, 'nf_conntrack slab object size') : Promise.resolve({ value: null });
}

type Facts = Awaited<ReturnType<typeof readFacts>>;

/** Everything but the slab. */
async function readFacts(host: SnapshotHost, processes: ProcessList) {
  const sysctls = await readConntrackSysctls(host);
  const moduleLoaded = await isConntrackLoaded(host, Object.keys(sysctls.values));
  const [release, memTotal, netns, kubernetes, hashsize] = await Promise.all([
    readKernelRelease(host),
    readMemTotalBytes(host),
    readNetnsFacts(host),
    kubernetesProcesses(processes, host),
    moduleLoaded ? readHashsize(host) : Promise.resolve(null),
  ]);
  // Without the module there are no counters to ask for: not an error.
  const stats: ConntrackStats = moduleLoaded
    ? await readConntrackStats(host)
    : { source: null, counters: null, entries: null, cpus: 0, missing: [], unreadable: [] };
  return { sysctls, moduleLoaded, release, memTotal, netns, kubernetes, hashsize, stats };
}

function snapshotOf(f: Facts, slab: Fact<ConntrackSlab>): HostSnapshot {
  const { unreadable: statsProblems, ...stats } = f.stats;
  const v = f.sysctls.values;
  return {
    kernelRelease: f.release.value,
    moduleLoaded: f.moduleLoaded,
    netns: { host: f.netns.host, inode: f.netns.inode },
    table: {
      count: v.nf_conntrack_count ?? null,
      max: v.nf_conntrack_max ?? null,
      buckets: v.nf_conntrack_buckets ?? null,
      hashsize: f.hashsize,
    },
    sysctls: v,
    stats,
    memory: { memTotalBytes: f.memTotal.value, slabObjectSize: slab.value?.objectSize ?? null },
    kubeProxy: f.kubernetes.value?.kubeProxy ?? null,
    ...(f.kubernetes.value ? { kubeletRunning: f.kubernetes.value.kubeletRunning } : {}),
    unreadable: [
      ...f.sysctls.unreadable,
      ...[f.release, f.memTotal, slab, f.kubernetes].flatMap((x) => (x.unreadable ? [x.unreadable] : [])),
      ...f.netns.unreadable,
      ...statsProblems,
    ],
  };
}

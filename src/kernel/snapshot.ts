// One read of everything the doctor and the status report need from the host,
// as one plain object. Never throws for a missing module or file: a host
// without conntrack is "no data" (moduleLoaded false, nulls), and whatever
// could not be read is listed in `unreadable` with whether root would help.
import {
  findKubernetesProcesses,
  isConntrackLoaded,
  readKernelRelease,
  readMemTotalBytes,
  readNetnsFacts,
  readSlabObjectSize,
  type KubeProxyFacts,
} from './host-facts.js';
import type { Host } from './host.js';
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

/** Read the host's conntrack facts once. Spawns at most `conntrack -S` (only when the stat file is missing). */
export async function readHostSnapshot(host: Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot'>): Promise<HostSnapshot> {
  const sysctls = await readConntrackSysctls(host);
  const moduleLoaded = await isConntrackLoaded(host, Object.keys(sysctls.values));
  const [release, memTotal, slab, netns, kubernetes, hashsize] = await Promise.all([
    readKernelRelease(host),
    readMemTotalBytes(host),
    moduleLoaded ? readSlabObjectSize(host) : Promise.resolve({ value: null }),
    readNetnsFacts(host),
    findKubernetesProcesses(host),
    moduleLoaded ? readHashsize(host) : Promise.resolve(null),
  ]);
  // Without the module there are no counters to ask for: not an error.
  const { unreadable: statsProblems, ...stats }: ConntrackStats = moduleLoaded
    ? await readConntrackStats(host)
    : { source: null, counters: null, entries: null, cpus: 0, missing: [], unreadable: [] };
  const v = sysctls.values;
  return {
    kernelRelease: release.value,
    moduleLoaded,
    netns: { host: netns.host, inode: netns.inode },
    table: {
      count: v.nf_conntrack_count ?? null,
      max: v.nf_conntrack_max ?? null,
      buckets: v.nf_conntrack_buckets ?? null,
      hashsize,
    },
    sysctls: v,
    stats,
    memory: { memTotalBytes: memTotal.value, slabObjectSize: slab.value },
    kubeProxy: kubernetes.value?.kubeProxy ?? null,
    ...(kubernetes.value ? { kubeletRunning: kubernetes.value.kubeletRunning } : {}),
    unreadable: [
      ...sysctls.unreadable,
      ...[release, memTotal, slab, kubernetes].flatMap((f) => ('unreadable' in f && f.unreadable ? [f.unreadable] : [])),
      ...netns.unreadable,
      ...statsProblems,
    ],
  };
}

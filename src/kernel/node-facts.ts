// The node facts policy merging and guardrails need, read off a host snapshot
// and the namespace census.
import type { HostSnapshot } from './snapshot.js';
import type { NetnsCensus } from './netns-census.js';
import type { NodeFacts } from '../policy/effective.js';
import type { ClusterCidrs } from '../policy/guardrails.js';

/**
 * The fullest network namespace's count (ours from the snapshot, every other
 * from the census: each is checked against the one global max) and the
 * entries of all the others. Without a census, ours alone.
 */
export function namespaceCounts(s: HostSnapshot, census: NetnsCensus | null): { fullest: number | null; others: number } {
  const counts = (census?.namespaces ?? []).filter((r) => !r.ours && r.entries !== null).map((r) => r.entries!);
  const ours = s.table.count ?? census?.namespaces.find((r) => r.ours)?.entries ?? null;
  if (ours !== null) counts.push(ours);
  if (counts.length === 0) return { fullest: null, others: 0 };
  const fullest = Math.max(...counts);
  return { fullest, others: counts.reduce((sum, n) => sum + n, 0) - fullest };
}

export function nodeFacts(s: HostSnapshot, cidrs: Required<ClusterCidrs>, census: NetnsCensus | null = null): NodeFacts {
  const { fullest, others } = namespaceCounts(s, census);
  return {
    ...(s.memory.memTotalBytes !== null ? { memTotalBytes: s.memory.memTotalBytes } : {}),
    ...(s.memory.slabObjectSize !== null ? { slabObjectSize: s.memory.slabObjectSize } : {}),
    ...(fullest !== null ? { conntrackCount: fullest, otherNamespacesEntries: others } : {}),
    ...(s.table.max !== null ? { currentMax: s.table.max } : {}),
    ...(s.table.buckets !== null ? { currentBuckets: s.table.buckets } : {}),
    serviceCidrs: cidrs.serviceCidrs,
    podCidrs: cidrs.podCidrs,
  };
}

/** kubelet or kube-proxy runs here: a Kubernetes node, even when the agent runs standalone. */
export function runsKubernetes(s: HostSnapshot): boolean {
  return s.kubeletRunning === true || s.kubeProxy?.running === true;
}

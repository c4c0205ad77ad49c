// The node facts policy merging and guardrails need, read off a host snapshot.
import type { HostSnapshot } from './snapshot.js';
import type { NodeFacts } from '../policy/effective.js';
import type { ClusterCidrs } from '../policy/guardrails.js';

export function nodeFacts(s: HostSnapshot, cidrs: Required<ClusterCidrs>): NodeFacts {
  return {
    ...(s.memory.memTotalBytes !== null ? { memTotalBytes: s.memory.memTotalBytes } : {}),
    ...(s.memory.slabObjectSize !== null ? { slabObjectSize: s.memory.slabObjectSize } : {}),
    ...(s.table.count !== null ? { conntrackCount: s.table.count } : {}),
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

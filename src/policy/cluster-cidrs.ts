// The Service and Pod ranges a node's NOTRACK rules must stay off, and where
// they come from: the agent's flags (chart values) win, else what the cluster
// states (ServiceCIDR objects, the Node's spec.podCIDRs). On a Kubernetes node
// a range that is not known is said so, never taken as "none": the guardrail
// then refuses the rules whose safety depends on it.
import type { ClusterCidrs } from './guardrails.js';

/** One kind of range as this node knows it: the CIDRs and where they come from, or why they are not known. */
export type RangeKnowledge = { cidrs: readonly string[]; from: string } | { cidrs: null; why: string };

/** What the cluster states, as the agent in a cluster has read it. */
export interface DiscoveredCidrs {
  service: RangeKnowledge;
  pod: RangeKnowledge;
}

export interface NodeCidrs {
  /** A Kubernetes node: the agent runs in a cluster, or kubelet or kube-proxy runs on this host. */
  kubernetesNode: boolean;
  service: RangeKnowledge;
  pod: RangeKnowledge;
}

export interface CidrFlags {
  serviceCidrs: readonly string[];
  podCidrs: readonly string[];
}

function fromFlag(flag: string, cidrs: readonly string[], otherwise: RangeKnowledge): RangeKnowledge {
  return cidrs.length > 0 ? { cidrs, from: flag } : otherwise;
}

/**
 * The node's ranges: per kind, the flag when given, else what the cluster
 * states (null: no cluster, the flags only).
 */
export function nodeCidrs(flags: CidrFlags, discovered: DiscoveredCidrs | null, kubernetesNode: boolean): NodeCidrs {
  const notGiven = (flag: string): RangeKnowledge => ({ cidrs: null, why: `no ${flag} given` });
  return {
    kubernetesNode: discovered !== null || kubernetesNode,
    service: fromFlag('--service-cidr', flags.serviceCidrs, discovered?.service ?? notGiven('--service-cidr')),
    pod: fromFlag('--pod-cidr', flags.podCidrs, discovered?.pod ?? notGiven('--pod-cidr')),
  };
}

/** What the guardrail judges rules against: a range unknown on a Kubernetes node is null (refuse what depends on it); elsewhere none. */
export function guardrailCidrs(n: NodeCidrs): Required<ClusterCidrs> {
  const of = (k: RangeKnowledge) => k.cidrs ?? (n.kubernetesNode ? null : []);
  return { serviceCidrs: of(n.service), podCidrs: of(n.pod) };
}

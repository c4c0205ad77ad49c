// Normalised policy types: what the engine works with after validation
// (durations in seconds, ports as ranges, defaults filled in).
import type { NotrackRuleSpec, PolicySpecParsed } from '../api/v1alpha1/policy.js';

export interface PortRange {
  from: number;
  to: number; // inclusive; equals from for a single port
}

/**
 * A NOTRACK rule ready for a backend: the API's rule (spec.notrack[]) with its
 * ports as ranges, its CIDRs normalised (v4 or v6) and its direction filled
 * in; allowBroadMatch is spent by the guardrails. `direction` names which
 * flows (inbound: initiated to this host; outbound: initiated by it); a
 * backend untracks both packet directions of each matched flow, as the field
 * notes do (raw PREROUTING --dport 80 together with raw OUTPUT --sport 80).
 */
export type DesiredNotrackRule = Omit<NotrackRuleSpec, 'ports' | 'allowBroadMatch'> & { ports?: PortRange[] };

/** What a node should look like. Sysctl keys are file names under /proc/sys/net/netfilter. */
export interface DesiredState {
  /** e.g. { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_established: 600 } */
  sysctls: Record<string, number>;
  /** Hash buckets: nf_conntrack_buckets where writable, else the hashsize module parameter. */
  buckets?: number;
  /** undefined = the policy says nothing about NOTRACK (leave ours as is: none). */
  notrack: DesiredNotrackRule[];
  acceptUntracked: boolean;
}

export type PolicyMode = PolicySpecParsed['mode'];

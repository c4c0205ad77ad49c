// A ConntrackPolicy's status from the cluster's node statuses: how many nodes
// it selects, how many are in sync, drifted or failed, and whether it is
// rejected or in conflict with another policy. Pure: the controller feeds it
// the watched objects; conflicts come from the same merge the agents run.
import { effectivePolicy } from '../policy/effective.js';
import { formatPolicyErrors, type PolicyError } from '../policy/errors.js';
import type { ConntrackPolicyDoc } from '../api/v1alpha1/policy.js';
import { selectorMatches, type Labels } from '../policy/select.js';
import { setConditions, type Condition, type ConditionInput } from './conditions.js';
import { FAILED_REASONS } from './node-status.js';
import {
  NodeConditions,
  NodeReasons,
  PolicyConditions,
  PolicyReasons,
  type NodeStatusDoc,
  type PolicyConditionTypeName,
  type PolicyStatusDoc,
} from '../api/v1alpha1/status.js';

export interface PolicyInput {
  name: string;
  generation: number;
  /** The selector as stored, to count selected nodes even for a rejected policy. */
  nodeSelector: unknown;
  errors: PolicyError[];
  previous: readonly Condition<PolicyConditionTypeName>[];
}

export interface ClusterView {
  nodes: Array<{ name: string; labels: Labels }>;
  statuses: ReadonlyMap<string, NodeStatusDoc>;
}

/** Conflicting fields per policy name, computed once per distinct label set (nodes sharing labels merge alike). */
export function conflictsByPolicy(valid: readonly ConntrackPolicyDoc[], nodes: ClusterView['nodes']): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const seen = new Set<string>();
  for (const node of nodes) {
    const key = JSON.stringify(Object.entries(node.labels).sort());
    if (seen.has(key)) continue;
    seen.add(key);
    for (const c of effectivePolicy(valid, node.labels, {}).conflicts) {
      for (const p of c.policies) {
        const fields = out.get(p) ?? new Set<string>();
        fields.add(`${c.field} (with ${c.policies.filter((o) => o !== p).join(', ')})`);
        out.set(p, fields);
      }
    }
  }
  return out;
}

function matches(selector: unknown, labels: Labels): boolean {
  try {
    return selectorMatches(selector as Parameters<typeof selectorMatches>[0], labels);
  } catch {
    return false; // an invalid selector selects nothing
  }
}

export function buildPolicyStatus(p: PolicyInput, view: ClusterView, conflicts: ReadonlySet<string> | undefined, now: Date): PolicyStatusDoc {
  const selected = view.nodes.filter((n) => matches(p.nodeSelector, n.labels));
  let inSync = 0;
  let drifted = 0;
  let failed = 0;
  for (const node of selected) {
    const s = view.statuses.get(node.name);
    if (!s) continue;
    const follows = s.appliedPolicy?.policies.some((x) => x.name === p.name && x.generation === p.generation) ?? false;
    const applied = s.conditions.find((c) => c.type === NodeConditions.Applied);
    const drift = s.conditions.find((c) => c.type === NodeConditions.Drifted);
    if (applied && FAILED_REASONS.has(applied.reason)) failed++;
    else if (drift?.status === 'True') drifted++;
    // DryRun: a node matches when it has nothing left to plan (a plan is not drift: it is counted in neither).
    else if (follows && drift?.status === 'False' && (applied?.status === 'True' || (applied?.reason === NodeReasons.Applied.DryRun && !s.plan?.length)))
      inSync++;
  }
  const g = p.generation;
  const c = (type: PolicyConditionTypeName, status: 'True' | 'False', reason: string, message: string): ConditionInput<PolicyConditionTypeName> => ({
    type,
    status,
    reason,
    message,
    observedGeneration: g,
  });
  const rejected = p.errors.length > 0;
  const pending = selected.length - inSync - drifted - failed;
  const next = [
    rejected
      ? c(PolicyConditions.Rejected, 'True', PolicyReasons.Rejected.Invalid, formatPolicyErrors(p.errors).slice(0, 4000))
      : c(PolicyConditions.Rejected, 'False', PolicyReasons.Rejected.Valid, 'The policy is valid.'),
    conflicts && conflicts.size
      ? c(
          PolicyConditions.Conflict,
          'True',
          PolicyReasons.Conflict.EqualPriority,
          `Policies of equal priority set different values; these fields are not applied: ${[...conflicts].join('; ')}`.slice(0, 4000),
        )
      : c(PolicyConditions.Conflict, 'False', PolicyReasons.Conflict.NoConflict, 'No policy of equal priority disagrees on shared nodes.'),
    failed || drifted
      ? c(
          PolicyConditions.Degraded,
          'True',
          failed ? PolicyReasons.Degraded.NodesFailed : PolicyReasons.Degraded.NodesDrifted,
          `${failed} node(s) failed to apply, ${drifted} drifted, of ${selected.length} selected.`,
        )
      : c(PolicyConditions.Degraded, 'False', PolicyReasons.Degraded.Healthy, `No selected node failed or drifted.`),
    !rejected && inSync === selected.length
      ? c(
          PolicyConditions.Ready,
          'True',
          selected.length ? PolicyReasons.Ready.AllInSync : PolicyReasons.Ready.NoNodesSelected,
          selected.length ? `All ${selected.length} selected node(s) are in sync.` : 'The nodeSelector matches no node.',
        )
      : c(
          PolicyConditions.Ready,
          'False',
          rejected ? PolicyReasons.Ready.Rejected : PolicyReasons.Ready.NotAllInSync,
          rejected ? 'The policy is invalid; no agent applies it.' : `${inSync} of ${selected.length} node(s) in sync; ${pending} not reported yet.`,
        ),
  ];
  return {
    observedGeneration: g,
    selectedNodes: selected.length,
    inSyncNodes: inSync,
    driftedNodes: drifted,
    failedNodes: failed,
    conditions: setConditions(p.previous, next, now),
  };
}

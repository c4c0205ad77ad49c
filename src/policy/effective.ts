// The effective policy of one node: select, merge per field by priority,
// apply guardrails, size the table.
//
// Merge: every field (each timeout, the table as a whole, each NOTRACK rule
// by name, acceptUntracked, pressure, pressureResponse) is taken from the highest-priority
// selected policy that sets it. At equal priority, different values are a
// Conflict and the field is not applied; equal values are not a conflict.
//
// Mode is per field: a field whose winning policy is DryRun is planned and
// reported but never written (`desired` has it, `enforced` does not). When
// policies agree at equal priority and one of them enforces, the field is
// enforced: a DryRun policy only observes, it never blocks another policy.
//
// Guardrails run on the winning value: a refused field is not applied and is
// reported; every other field of the same policy still applies (refusing the
// whole policy would also drop its safe fields, such as a lower established
// timeout that stops the table from filling).
import type { PolicyError } from './errors.js';
import { notrackRefusal, pressureResponseRefusal, tableMemoryRefusal, timeoutRefusal } from './guardrails.js';
import { normalizePolicy, type FieldValue, type NormalizedPolicy, type PressureResponseSpec, type PressureThresholds, type TableSpec } from './normalize.js';
import type { ConntrackPolicyDoc } from '../api/v1alpha1/policy.js';
import { DEFAULT_PRESSURE } from '../api/v1alpha1/policy-rules.js';
import { selectorMatches, type Labels } from './select.js';
import { autoSize, FALLBACK_SLAB_OBJECT_SIZE, type AutoSizeResult } from './sizing.js';
import { MAX_SYSCTL } from './sysctl-keys.js';
import type { DesiredState, PolicyMode } from './types.js';
import { compareText } from '../text-order.js';

/** What the node is like, as far as merging and guardrails need it. Unknown = undefined. */
export interface NodeFacts {
  memTotalBytes?: number;
  /** nf_conntrack slab object size from /proc/slabinfo; FALLBACK_SLAB_OBJECT_SIZE when unknown. */
  slabObjectSize?: number;
  /** Entries now in the fullest network namespace (host and pods alike): the count max must fit. */
  conntrackCount?: number;
  /** Entries now in every other namespace: they share the slab, so autoSize's budget keeps room for them. */
  otherNamespacesEntries?: number;
  /** The agent's trusted forecast for the namespace filling soonest: its count now (level) and growth a second. */
  forecast?: { level: number; ratePerSecond: number };
  /** A namespace dropped new connections for a full table since the last pass. */
  droppingFull?: boolean;
  /** How long the table has been calm (no namespace filling up or dropping, demand under a quarter of max), seconds. */
  calmForSeconds?: number;
  currentMax?: number;
  currentBuckets?: number;
  /** null: a Kubernetes node whose ranges are not known (rules that depend on them are refused). */
  serviceCidrs?: readonly string[] | null;
  podCidrs?: readonly string[] | null;
}

interface FieldSource {
  field: string;
  /** Every selected policy at the winning priority that sets this value. */
  policies: string[];
  priority: number;
  mode: PolicyMode;
}

export interface Conflict {
  field: string;
  policies: string[];
  /** The distinct values, in the order of `policies`' first appearance. */
  values: unknown[];
}

export interface EffectivePolicy {
  /** Selected policy names, highest priority first (then by name). */
  selected: string[];
  /** Every field that applies, from Enforce and DryRun policies alike: what `plan` shows. */
  desired: DesiredState;
  /** Only the fields won by Enforce policies: what may be written. */
  enforced: DesiredState;
  /** Enforce when any field is enforced, else DryRun (per-field modes are in `sources`). */
  mode: PolicyMode;
  pressure: PressureThresholds;
  /** The pressure response, when a policy sets one (pressure-response.ts decides when it is in force); its mode says whether it may be written. */
  pressureResponse?: { spec: PressureResponseSpec; mode: PolicyMode };
  sources: FieldSource[];
  conflicts: Conflict[];
  /** Guardrail refusals: policy, field path and reason. */
  refused: PolicyError[];
  /** How autoSize chose the table size, when it did. */
  autoSize?: AutoSizeResult;
  /** autoSize's growAheadSeconds, when autoSize sizes the table: the horizon the agent's forecast is acted on and FillingUp judged against. */
  growAheadSeconds?: number;
}

interface Contribution {
  policy: NormalizedPolicy;
  value: FieldValue;
}

export function effectivePolicy(docs: readonly ConntrackPolicyDoc[], nodeLabels: Labels, facts: NodeFacts): EffectivePolicy {
  const selected = docs
    .map(normalizePolicy)
    .filter((p) => selectorMatches(p.nodeSelector, nodeLabels))
    .sort((a, b) => b.priority - a.priority || compareText(a.name, b.name));

  const byField = new Map<string, Contribution[]>();
  for (const policy of selected) {
    for (const { field, value } of policy.fields) {
      // Append in place: copying the list on every contribution made many policies quadratic.
      const list = byField.get(field);
      if (list) list.push({ policy, value });
      else byField.set(field, [{ policy, value }]);
    }
  }

  const result: EffectivePolicy = {
    selected: selected.map((p) => p.name),
    desired: emptyState(),
    enforced: emptyState(),
    mode: 'DryRun',
    pressure: DEFAULT_PRESSURE,
    sources: [],
    conflicts: [],
    refused: [],
  };
  for (const [field, contributions] of [...byField].sort(([a], [b]) => compareText(a, b))) {
    // `selected` is sorted by priority, so the first contribution has the top priority.
    const top = contributions.filter((c) => c.policy.priority === contributions[0]!.policy.priority);
    const distinct = new Map<string, FieldValue>();
    for (const c of top) distinct.set(JSON.stringify(c.value), c.value);
    if (distinct.size > 1) {
      result.conflicts.push({ field, policies: top.map((c) => c.policy.name), values: [...distinct.values()].map(shownValue) });
      continue;
    }
    const mode: PolicyMode = top.some((c) => c.policy.mode === 'Enforce') ? 'Enforce' : 'DryRun';
    const winner = top[0]!;
    const refusal = applyField(result, winner, mode, facts);
    if (refusal) {
      result.refused.push({ policy: winner.policy.name, path: field, message: refusal });
      continue;
    }
    result.sources.push({ field, policies: top.map((c) => c.policy.name), priority: winner.policy.priority, mode });
    if (mode === 'Enforce') result.mode = 'Enforce';
  }
  for (const state of [result.desired, result.enforced]) state.notrack.sort((a, b) => compareText(a.name, b.name));
  return result;
}

/** Puts the winning value into the desired (and, when enforced, the enforced) state; returns a guardrail refusal instead when there is one. */
function applyField(result: EffectivePolicy, winner: Contribution, mode: PolicyMode, facts: NodeFacts): string | undefined {
  const value = winner.value;
  const targets = mode === 'Enforce' ? [result.desired, result.enforced] : [result.desired];
  switch (value.kind) {
    case 'timeout': {
      const refusal = timeoutRefusal(value.sysctl, value.seconds, winner.policy.allowBelowSafeFloor);
      if (refusal) return refusal;
      for (const t of targets) t.sysctls[value.sysctl] = value.seconds;
      return undefined;
    }
    case 'table': {
      const size = tableSize(value.table, facts);
      if ('refusal' in size) return size.refusal;
      if (size.autoSize) {
        result.autoSize = size.autoSize;
        result.growAheadSeconds = value.table.autoSize!.growAheadSeconds;
      }
      for (const t of targets) {
        if (size.max !== undefined) t.sysctls[MAX_SYSCTL] = size.max;
        if (size.buckets !== undefined) t.buckets = size.buckets;
      }
      return undefined;
    }
    case 'notrack': {
      const refusal = notrackRefusal(value.rule, value.allowBroadMatch, facts);
      if (refusal) return refusal;
      for (const t of targets) t.notrack.push(value.rule);
      return undefined;
    }
    case 'acceptUntracked':
      for (const t of targets) t.acceptUntracked = value.accept;
      return undefined;
    case 'pressure':
      // Thresholds only shape reports, so they apply in either mode.
      result.pressure = value.pressure;
      return undefined;
    case 'pressureResponse': {
      const refusal = pressureResponseRefusal(value.response);
      if (refusal) return refusal;
      result.pressureResponse = { spec: value.response, mode };
      return undefined;
    }
  }
}

type TableSize = { max?: number; buckets?: number; autoSize?: AutoSizeResult } | { refusal: string };

function tableSize(table: TableSpec, facts: NodeFacts): TableSize {
  const slabObjectSize = facts.slabObjectSize ?? FALLBACK_SLAB_OBJECT_SIZE;
  if (table.autoSize) {
    if (facts.memTotalBytes === undefined) return { refusal: "autoSize needs the node's RAM (MemTotal), which could not be read" };
    const sized = autoSize({
      memTotalBytes: facts.memTotalBytes,
      slabObjectSize,
      memoryBudgetPercent: table.autoSize.memoryBudgetPercent,
      targetUsagePercent: table.autoSize.targetUsagePercent,
      observedCount: facts.conntrackCount ?? 0,
      otherEntries: facts.otherNamespacesEntries,
      ...(facts.forecast
        ? { forecastCount: Math.round(facts.forecast.level + Math.max(0, facts.forecast.ratePerSecond) * table.autoSize.growAheadSeconds) }
        : {}),
      droppingFull: facts.droppingFull ?? false,
      giveBack: table.autoSize.shrinkAfterSeconds !== undefined && (facts.calmForSeconds ?? 0) >= table.autoSize.shrinkAfterSeconds,
      currentMax: facts.currentMax,
      minMax: table.autoSize.minMax,
      maxMax: table.autoSize.maxMax,
    });
    return { max: sized.max, buckets: sized.buckets, autoSize: sized };
  }
  // A size the policy leaves out stays as the kernel has it, so it counts at its current value.
  const refusal = tableMemoryRefusal(table.max ?? facts.currentMax ?? 0, table.buckets ?? facts.currentBuckets ?? 0, {
    slabObjectSize,
    memTotalBytes: facts.memTotalBytes,
  });
  return refusal ? { refusal } : { max: table.max, buckets: table.buckets };
}

/** Values as a user reads them in a Conflict: the setting, not the engine's wrapper. */
function shownValue(value: FieldValue): unknown {
  switch (value.kind) {
    case 'timeout':
      return value.seconds;
    case 'table':
      return value.table;
    case 'notrack':
      return value.rule;
    case 'acceptUntracked':
      return value.accept;
    case 'pressure':
      return value.pressure;
    case 'pressureResponse': {
      const { startPercent, stopPercent, timeouts } = value.response;
      return { startPercent, stopPercent, timeouts };
    }
  }
}

function emptyState(): DesiredState {
  return { sysctls: {}, notrack: [], acceptUntracked: false };
}

// Builds a node's ConntrackStatus.status from one agent pass: what the kernel
// shows, what the policy asked, what the reconcile did. Pure; the same
// document goes to the status file (standalone) and the API (in a cluster).
import type { HostSnapshot } from '../kernel/snapshot.js';
import type { EffectivePolicy } from '../policy/effective.js';
import type { DriftRecord } from '../reconcile/drift.js';
import type { Baseline } from '../reconcile/planner.js';
import type { ReconcileResult } from '../reconcile/reconciler.js';
import type { RestoreResult } from '../reconcile/restore.js';
import { FALLBACK_SLAB_OBJECT_SIZE, tableBytes } from '../policy/sizing.js';
import { setConditions, type Condition, type ConditionInput } from './conditions.js';
import { windowText, type DropWindow } from './drops.js';
import { buildFindings, chainLength, DEFAULT_PRESSURE, factsFrom, usagePercent, type FindingFacts } from './findings.js';
import { Counters, type CountersDoc, type NodeConditionType, type NodeStatusDoc } from '../api/v1alpha1/status.js';
import type { TableSummary } from '../kernel/table-summary.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { netnsFindings } from './netns-findings.js';
import { buildNetnsStatus, type NetnsDrops, type PodNames } from './netns-status.js';
import type { WatchView } from './forecast.js';

type NodeCondition = Condition<(typeof NodeConditionType)[number]>;
type NodeConditionInput = ConditionInput<(typeof NodeConditionType)[number]>;

/**
 * observedGeneration of every condition: the ConntrackStatus object's own
 * metadata.generation. The object has no spec (all of it is status, written
 * through the status subresource), so the API server keeps it at 1. Which
 * policy generations were applied is in appliedPolicy.policies[].generation.
 */
const STATUS_OBJECT_GENERATION = 1;

/** Applied condition reasons that mean the node could not be made to follow (or given back). */
export const FAILED_REASONS: ReadonlySet<string> = new Set(['ApplyFailed', 'Error', 'RestoreFailed']);

export type PassOutcome =
  | { kind: 'reconciled'; effective: EffectivePolicy; result: ReconcileResult; generations: Record<string, number> }
  | { kind: 'restored'; result: RestoreResult }
  | { kind: 'no-policy' }
  | { kind: 'error'; message: string; effective?: EffectivePolicy; generations?: Record<string, number> };

export interface DropSignal {
  /** How the counters moved since the previous pass; null on the first pass (one sample). */
  window: DropWindow | null;
  /** The kernel logged "table full" for this namespace since the previous pass. */
  kernelLoggedFull: boolean;
}

export interface NodeStatusInputs {
  nodeName: string;
  now: Date;
  snapshot: HostSnapshot;
  summary: TableSummary | null;
  tableSource: 'procfs' | 'conntrack-tool' | 'none';
  notrackBackend: 'iptables-nft' | 'iptables-legacy' | 'nftables' | 'none';
  outcome: PassOutcome;
  baseline: Baseline;
  drops: DropSignal;
  /** Why the last policy input could not be used (an invalid edit), if so. */
  policyError?: string;
  /** This pass's namespace census and each namespace's drop counters at the previous pass. */
  namespaces?: { census: NetnsCensus; previousDrops: NetnsDrops | null; podNames?: PodNames };
  /** What the table watch saw between passes: the namespace nearest to full and its forecast. */
  watch?: WatchView;
  previousConditions: readonly NodeCondition[];
}

type Pressure = NonNullable<FindingFacts['pressure']>;
type Reconciled = Extract<PassOutcome, { kind: 'reconciled' }>;
/** A condition's state, before its type and generation are added. */
type ConditionOutcome = Pick<NodeConditionInput, 'status' | 'reason' | 'message'>;

const round1 = (n: number) => Math.round(n * 10) / 10;

function driftText(d: DriftRecord): string {
  const writer = d.likelyWriter && d.likelyWriter !== 'unknown' ? `, likely ${d.likelyWriter}` : '';
  return `${d.key} is ${d.actual}, policy says ${d.desired}${writer}${d.fighting ? ', keeps coming back: no longer correcting' : ''}`;
}

function generationsOf(outcome: PassOutcome): Record<string, number> | undefined {
  return 'generations' in outcome ? outcome.generations : undefined;
}

function effectiveOf(outcome: PassOutcome): EffectivePolicy | undefined {
  return 'effective' in outcome ? outcome.effective : undefined;
}

function driftOf(outcome: PassOutcome): DriftRecord[] {
  return outcome.kind === 'reconciled' ? outcome.result.drift : [];
}

function appliedCondition(outcome: PassOutcome, policyError: string | undefined, previous: NodeCondition | undefined): NodeConditionInput {
  const base = { type: 'Applied' as const, observedGeneration: STATUS_OBJECT_GENERATION };
  switch (outcome.kind) {
    case 'no-policy':
      // After a restore the node stays "Restored" until a policy selects it again.
      if (previous?.reason === 'Restored') return { ...base, status: previous.status, reason: previous.reason, message: previous.message };
      return { ...base, status: 'False', reason: 'NoPolicy', message: 'No ConntrackPolicy selects this node; its kernel settings are its own.' };
    case 'restored':
      return outcome.result.ok
        ? {
            ...base,
            status: 'False',
            reason: 'Restored',
            message: 'No policy selects this node any more: the values from before the first change were put back and our NOTRACK rules removed.',
          }
        : {
            ...base,
            status: 'False',
            reason: 'RestoreFailed',
            message: `Putting back the original values failed: ${executionError(outcome.result.execution) ?? notApplicableText(outcome.result.plan.notApplicable)}`,
          };
    case 'error':
      return { ...base, status: 'False', reason: 'Error', message: outcome.message };
    case 'reconciled':
      return { ...base, ...reconciledOutcome(outcome, policyError) };
  }
}

/** Applied after a reconcile: failed and rolled back, DryRun, not in sync yet, or applied. */
function reconciledOutcome({ effective, result: r }: Reconciled, policyError: string | undefined): ConditionOutcome {
  const names = effective.selected.join(', ');
  const skipped = r.notApplicable.length ? ` Not applicable here: ${notApplicableText(r.notApplicable)}.` : '';
  const invalid = policyError ? ` The latest policy edit was not used: ${policyError}` : '';
  if (r.execution && !r.execution.ok) {
    return { status: 'False', reason: 'ApplyFailed', message: `Applying ${names} failed and was rolled back: ${executionError(r.execution)}.${invalid}` };
  }
  if (r.mode === 'DryRun') {
    return { status: 'False', reason: 'DryRun', message: `${names} is in DryRun: ${dryRunText(r)}, nothing is written.${skipped}${invalid}` };
  }
  if (!r.inSync) return { status: 'False', reason: 'NotInSync', message: `The node does not match ${names} yet.${skipped}${invalid}` };
  return { status: 'True', reason: 'Applied', message: `The node matches ${names}.${skipped}${invalid}` };
}

function dryRunText(r: ReconcileResult): string {
  const n = r.plan.actions.length;
  if (n > 0) return `${n} change(s) would be made`;
  return r.notApplicable.length ? 'nothing that differs can be changed here' : 'the node already matches';
}

function executionError(e: ReconcileResult['execution']): string | undefined {
  return e?.failed ? `${e.failed.action.key}: ${e.failed.error}` : undefined;
}

function notApplicableText(items: ReconcileResult['notApplicable']): string {
  return items.map((n) => `${n.key} (${n.reason})`).join('; ');
}

/** The summary kubectl wait, kstatus and dashboards look for: False when the node cannot follow its policy or drops packets now. */
function readyCondition(applied: NodeConditionInput, full: NodeConditionInput, race: NodeConditionInput): NodeConditionInput {
  const base = { type: 'Ready' as const, observedGeneration: applied.observedGeneration };
  if (FAILED_REASONS.has(applied.reason)) return { ...base, status: 'False', reason: applied.reason, message: applied.message };
  for (const c of [full, race]) {
    if (c.status === 'True') return { ...base, status: 'False', reason: c.type, message: c.message };
  }
  return {
    ...base,
    status: 'True',
    reason: 'Ready',
    message: 'The agent reads this node, it follows its policy (or has none), and no packets are being dropped.',
  };
}

/** How full the table is against the policy's thresholds. */
function pressureState(usage: number | null, { count, max }: HostSnapshot['table'], pressure: Pressure): ConditionOutcome {
  if (usage === null) return { status: 'Unknown', reason: 'Unreadable', message: 'The entry count or the max could not be read.' };
  if (usage >= pressure.criticalPercent) {
    return { status: 'True', reason: 'Critical', message: `The table is ${round1(usage)}% full (${count} of ${max}); at 100% new connections are dropped.` };
  }
  if (usage >= pressure.warningPercent) return { status: 'True', reason: 'Warning', message: `The table is ${round1(usage)}% full (${count} of ${max}).` };
  return { status: 'False', reason: 'Normal', message: `The table is ${round1(usage)}% full.` };
}

/** Whether keys moved away from what was applied, and whether another writer keeps moving them. */
function driftState(outcome: PassOutcome): ConditionOutcome {
  const drift = driftOf(outcome);
  if (outcome.kind === 'error') return { status: 'Unknown', reason: 'NotChecked', message: 'The last pass failed before comparing the node with the policy.' };
  if (drift.length) return { status: 'True', reason: drift.some((d) => d.fighting) ? 'Fighting' : 'Drift', message: drift.map(driftText).join('; ') };
  return { status: 'False', reason: 'InSync', message: 'No key differs from what was applied.' };
}

/** Why drops could not be judged this pass: counters unread, or only one sample so far. */
function notJudged(countersRead: boolean): ConditionOutcome {
  return countersRead
    ? { status: 'Unknown', reason: 'FirstSample', message: 'Drops are judged between two reads of the counters; this is the first.' }
    : {
        status: 'Unknown',
        reason: 'CountersUnreadable',
        message: "The kernel's conntrack counters could not be read: see the findings and what was not read.",
      };
}

/** Drops because no entry could be allocated, or the kernel's own "table full" line. */
function tableFullCondition(d: DropSignal, unjudged: ConditionOutcome): NodeConditionInput {
  const base = { type: 'TableFull' as const, observedGeneration: STATUS_OBJECT_GENERATION };
  const w = d.window;
  if (w && w.tableFull > 0) {
    return {
      ...base,
      status: 'True',
      reason: 'Dropping',
      message: `The table is full: ${w.tableFull} packets of new connections were dropped ${windowText(w)} because no entry could be allocated.`,
    };
  }
  if (d.kernelLoggedFull)
    return { ...base, status: 'True', reason: 'KernelReportedFull', message: 'The kernel logged "nf_conntrack: table full, dropping packet" for this node.' };
  if (!w) return { ...base, ...unjudged };
  return { ...base, status: 'False', reason: 'NotDropping', message: `No connections dropped for a full table ${windowText(w)}.` };
}

/** Drops because two packets of one new flow raced to insert it: not a full table, and not fixed by a bigger one. */
function insertionRaceCondition(w: DropWindow | null, unjudged: ConditionOutcome, usage: number | null): NodeConditionInput {
  const base = { type: 'InsertionRace' as const, observedGeneration: STATUS_OBJECT_GENERATION };
  if (!w) return { ...base, ...unjudged };
  if (w.insertionRace > 0) {
    const fill = usage === null ? '' : ` with the table ${round1(usage)}% full`;
    return {
      ...base,
      status: 'True',
      reason: 'RaceDrops',
      message: `${w.insertionRace} packets were dropped ${windowText(w)}${fill} because two packets of one new flow raced to insert it (drop and insert_failed rose together): the UDP/DNS race. NOTRACK DNS or set resolver options single-request-reopen / use-vc; see the findings.`,
    };
  }
  return { ...base, status: 'False', reason: 'NoRaceDrops', message: `No packets dropped for an insertion race ${windowText(w)}.` };
}

/** This pass's conditions, Ready first. */
function conditionsOf(i: NodeStatusInputs, usage: number | null, pressure: Pressure): NodeConditionInput[] {
  const unjudged = notJudged(i.snapshot.stats.counters !== null);
  const full = tableFullCondition(i.drops, unjudged);
  const race = insertionRaceCondition(i.drops.window, unjudged, usage);
  const applied = appliedCondition(
    i.outcome,
    i.policyError,
    i.previousConditions.find((c) => c.type === 'Applied'),
  );
  const ready = readyCondition(applied, full, race);
  // Drifted and Pressure carry observedGeneration last, as they always have.
  return [
    ready,
    applied,
    { type: 'Drifted', ...driftState(i.outcome), observedGeneration: STATUS_OBJECT_GENERATION },
    { type: 'Pressure', ...pressureState(usage, i.snapshot.table, pressure), observedGeneration: STATUS_OBJECT_GENERATION },
    full,
    race,
  ];
}

function kernelSection(i: NodeStatusInputs): Pick<NodeStatusDoc, 'kernel'> {
  const s = i.snapshot;
  return {
    kernel: {
      release: s.kernelRelease ?? 'unknown',
      conntrackLoaded: s.moduleLoaded,
      ...(s.netns.host === null ? {} : { hostNetworkNamespace: s.netns.host }),
      notrackBackend: i.notrackBackend,
      tableSource: i.tableSource,
    },
  };
}

function tableSection({ table: { count, max, buckets }, memory }: HostSnapshot, usage: number | null): Pick<NodeStatusDoc, 'table'> {
  if (count === null || max === null || buckets === null) return {};
  const chain = chainLength(count, buckets);
  return {
    table: {
      count,
      max,
      buckets,
      usagePercent: round1(usage ?? 0),
      usage: `${Math.round(usage ?? 0)}%`,
      ...(chain !== null ? { chainLength: round1(chain) } : {}),
      bytes: tableBytes(max, buckets, memory.slabObjectSize ?? FALLBACK_SLAB_OBJECT_SIZE),
      ...(memory.slabObjectSize !== null ? { slabObjectSize: memory.slabObjectSize } : {}),
    },
  };
}

/** The counters the status carries: the ones its schema names. */
const STATUS_COUNTERS = Object.keys(Counters.shape) as (keyof CountersDoc)[];

function countersSection(c: HostSnapshot['stats']['counters']): Pick<NodeStatusDoc, 'counters'> {
  if (!c) return {};
  return { counters: Object.fromEntries(STATUS_COUNTERS.filter((k) => c[k] !== undefined).map((k) => [k, c[k]!])) };
}

function breakdownSection(summary: TableSummary | null): Pick<NodeStatusDoc, 'breakdown'> {
  if (!summary) return {};
  return {
    breakdown: {
      entries: summary.total,
      byL3: summary.byL3,
      byProtocol: summary.byProtocol,
      tcpStates: summary.tcpStates,
      assured: summary.flags.assured,
      unreplied: summary.flags.unreplied,
      loopbackPercent: round1(summary.loopback.share * 100),
      topSources: summary.topSources.slice(0, 10),
    },
  };
}

function appliedPolicySection(outcome: PassOutcome): Pick<NodeStatusDoc, 'appliedPolicy'> {
  const effective = effectiveOf(outcome);
  const generations = generationsOf(outcome);
  if (!effective || !generations) return {};
  return {
    appliedPolicy: {
      name: effective.selected.join(','),
      policies: effective.selected.map((name) => ({ name, generation: generations[name] ?? 0 })),
      mode: outcome.kind === 'reconciled' ? outcome.result.mode : effective.mode,
    },
  };
}

function driftSection(drift: DriftRecord[]): Pick<NodeStatusDoc, 'driftCount' | 'drift'> {
  return {
    driftCount: drift.length,
    ...(drift.length
      ? {
          drift: drift.map((d) => ({
            key: d.key,
            desired: String(d.desired),
            actual: String(d.actual),
            since: d.since,
            ...(d.likelyWriter ? { likelyWriter: d.likelyWriter } : {}),
            ...(d.fighting ? { fighting: true } : {}),
          })),
        }
      : {}),
  };
}

function baselineSection({ values, notrackOwned }: Baseline): Pick<NodeStatusDoc, 'baseline'> {
  if (!Object.keys(values).length && !notrackOwned) return {};
  return {
    baseline: {
      ...Object.fromEntries(Object.entries(values).map(([k, v]) => [k, String(v)])),
      ...(notrackOwned ? { notrack: 'none (our NOTRACK chains are removed on restore)' } : {}),
    },
  };
}

function findingsSection(i: NodeStatusInputs, pressure: Pressure): Pick<NodeStatusDoc, 'findings'> {
  const host = buildFindings(factsFrom(i.snapshot, i.summary, i.drops.window, pressure));
  const findings = [...host, ...(i.namespaces ? netnsFindings(i.namespaces.census, i.snapshot.table.max, pressure) : [])];
  return findings.length ? { findings: findings.slice(0, 32) } : {};
}

function namespacesSection(i: NodeStatusInputs, pressure: Pressure): Pick<NodeStatusDoc, 'namespaces'> {
  const ns = i.namespaces;
  return ns ? { namespaces: buildNetnsStatus(ns.census, ns.previousDrops, i.snapshot.table.max, pressure, ns.podNames) } : {};
}

export function buildNodeStatus(i: NodeStatusInputs): { status: NodeStatusDoc; conditions: NodeCondition[] } {
  const pressure = effectiveOf(i.outcome)?.pressure ?? DEFAULT_PRESSURE;
  const usage = usagePercent(i.snapshot.table.count, i.snapshot.table.max);
  const conditions = setConditions(i.previousConditions, conditionsOf(i, usage, pressure), i.now);
  const status: NodeStatusDoc = {
    nodeName: i.nodeName,
    lastProbeTime: i.now.toISOString(),
    ...kernelSection(i),
    ...tableSection(i.snapshot, usage),
    ...countersSection(i.snapshot.stats.counters),
    ...breakdownSection(i.summary),
    ...appliedPolicySection(i.outcome),
    ...driftSection(driftOf(i.outcome)),
    ...baselineSection(i.baseline),
    ...findingsSection(i, pressure),
    ...namespacesSection(i, pressure),
    conditions,
  };
  return { status, conditions };
}

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
import { buildFindings, chainLength, DEFAULT_PRESSURE, factsFrom, usagePercent } from './findings.js';
import type { NodeConditionType, NodeStatusDoc } from '../api/v1alpha1/status.js';

type NodeCondition = Condition<(typeof NodeConditionType)[number]>;
type NodeConditionInput = ConditionInput<(typeof NodeConditionType)[number]>;
import type { TableSummary } from '../kernel/table-summary.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { netnsFindings } from './netns-findings.js';
import { buildNetnsStatus, type NetnsDrops, type PodNames } from './netns-status.js';

/**
 * observedGeneration of every condition: the ConntrackStatus object's own
 * metadata.generation. The object has no spec (all of it is status, written
 * through the status subresource), so the API server keeps it at 1. Which
 * policy generations were applied is in appliedPolicy.policies[].generation.
 */
export const STATUS_OBJECT_GENERATION = 1;

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
  previousConditions: readonly NodeCondition[];
}

const round1 = (n: number) => Math.round(n * 10) / 10;

function driftText(d: DriftRecord): string {
  const writer = d.likelyWriter && d.likelyWriter !== 'unknown' ? `, likely ${d.likelyWriter}` : '';
  return `${d.key} is ${d.actual}, policy says ${d.desired}${writer}${d.fighting ? ', keeps coming back: no longer correcting' : ''}`;
}

function generationsOf(outcome: PassOutcome): Record<string, number> | undefined {
  return 'generations' in outcome ? outcome.generations : undefined;
}

function appliedCondition(outcome: PassOutcome, policyError: string | undefined, generation: number, previous: NodeCondition | undefined): NodeConditionInput {
  const base = { type: 'Applied' as const, observedGeneration: generation };
  switch (outcome.kind) {
    case 'no-policy':
      // After a restore the node stays "Restored" until a policy selects it again.
      if (previous?.reason === 'Restored') return { ...base, status: previous.status, reason: previous.reason, message: previous.message };
      return { ...base, status: 'False', reason: 'NoPolicy', message: 'No ConntrackPolicy selects this node; its kernel settings are its own.' };
    case 'restored':
      return outcome.result.ok
        ? { ...base, status: 'False', reason: 'Restored', message: 'No policy selects this node any more: the values from before the first change were put back and our NOTRACK rules removed.' }
        : { ...base, status: 'False', reason: 'RestoreFailed', message: `Putting back the original values failed: ${executionError(outcome.result.execution) ?? notApplicableText(outcome.result.plan.notApplicable)}` };
    case 'error':
      return { ...base, status: 'False', reason: 'Error', message: outcome.message };
    case 'reconciled': {
      const r = outcome.result;
      const names = outcome.effective.selected.join(', ');
      const skipped = r.notApplicable.length ? ` Not applicable here: ${notApplicableText(r.notApplicable)}.` : '';
      const invalid = policyError ? ` The latest policy edit was not used: ${policyError}` : '';
      if (r.execution && !r.execution.ok) {
        return { ...base, status: 'False', reason: 'ApplyFailed', message: `Applying ${names} failed and was rolled back: ${executionError(r.execution)}.${invalid}` };
      }
      if (r.mode === 'DryRun') {
        const n = r.plan.actions.length;
        const would = n > 0 ? `${n} change(s) would be made` : r.notApplicable.length ? 'nothing that differs can be changed here' : 'the node already matches';
        return { ...base, status: 'False', reason: 'DryRun', message: `${names} is in DryRun: ${would}, nothing is written.${skipped}${invalid}` };
      }
      if (!r.inSync) return { ...base, status: 'False', reason: 'NotInSync', message: `The node does not match ${names} yet.${skipped}${invalid}` };
      return { ...base, status: 'True', reason: 'Applied', message: `The node matches ${names}.${skipped}${invalid}` };
    }
  }
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
  return { ...base, status: 'True', reason: 'Ready', message: 'The agent reads this node, it follows its policy (or has none), and no packets are being dropped.' };
}

/** Why drops could not be judged this pass: counters unread, or only one sample so far. */
function notJudged(countersRead: boolean): Pick<NodeConditionInput, 'status' | 'reason' | 'message'> {
  return countersRead
    ? { status: 'Unknown', reason: 'FirstSample', message: 'Drops are judged between two reads of the counters; this is the first.' }
    : { status: 'Unknown', reason: 'CountersUnreadable', message: 'The kernel\'s conntrack counters could not be read: see the findings and what was not read.' };
}

/** Drops because no entry could be allocated, or the kernel's own "table full" line. */
function tableFullConditionOf(d: DropSignal, unjudged: ReturnType<typeof notJudged>, generation: number): NodeConditionInput {
  const base = { type: 'TableFull' as const, observedGeneration: generation };
  const w = d.window;
  if (w && w.tableFull > 0) {
    return { ...base, status: 'True', reason: 'Dropping', message: `The table is full: ${w.tableFull} packets of new connections were dropped ${windowText(w)} because no entry could be allocated.` };
  }
  if (d.kernelLoggedFull) return { ...base, status: 'True', reason: 'KernelReportedFull', message: 'The kernel logged "nf_conntrack: table full, dropping packet" for this node.' };
  if (!w) return { ...base, ...unjudged };
  return { ...base, status: 'False', reason: 'NotDropping', message: `No connections dropped for a full table ${windowText(w)}.` };
}

/** Drops because two packets of one new flow raced to insert it: not a full table, and not fixed by a bigger one. */
function insertionRaceConditionOf(w: DropWindow | null, unjudged: ReturnType<typeof notJudged>, usage: number | null, generation: number): NodeConditionInput {
  const base = { type: 'InsertionRace' as const, observedGeneration: generation };
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

export function buildNodeStatus(i: NodeStatusInputs): { status: NodeStatusDoc; conditions: NodeCondition[] } {
  const s = i.snapshot;
  const { count, max, buckets } = s.table;
  const effective = 'effective' in i.outcome ? i.outcome.effective : undefined;
  const pressure = effective?.pressure ?? DEFAULT_PRESSURE;
  const usage = usagePercent(count, max);
  const drift = i.outcome.kind === 'reconciled' ? i.outcome.result.drift : [];
  const generations = generationsOf(i.outcome);
  const generation = STATUS_OBJECT_GENERATION;
  const c = s.stats.counters;

  const pressureCondition: NodeConditionInput =
    usage === null
      ? { type: 'Pressure', status: 'Unknown', reason: 'Unreadable', message: 'The entry count or the max could not be read.', observedGeneration: generation }
      : usage >= pressure.criticalPercent
        ? { type: 'Pressure', status: 'True', reason: 'Critical', message: `The table is ${round1(usage)}% full (${count} of ${max}); at 100% new connections are dropped.`, observedGeneration: generation }
        : usage >= pressure.warningPercent
          ? { type: 'Pressure', status: 'True', reason: 'Warning', message: `The table is ${round1(usage)}% full (${count} of ${max}).`, observedGeneration: generation }
          : { type: 'Pressure', status: 'False', reason: 'Normal', message: `The table is ${round1(usage)}% full.`, observedGeneration: generation };
  const unjudged = notJudged(c !== null);
  const tableFullCondition = tableFullConditionOf(i.drops, unjudged, generation);
  const raceCondition = insertionRaceConditionOf(i.drops.window, unjudged, usage, generation);
  const driftCondition: NodeConditionInput = i.outcome.kind === 'error'
    ? { type: 'Drifted', status: 'Unknown', reason: 'NotChecked', message: 'The last pass failed before comparing the node with the policy.', observedGeneration: generation }
    : drift.length
    ? { type: 'Drifted', status: 'True', reason: drift.some((d) => d.fighting) ? 'Fighting' : 'Drift', message: drift.map(driftText).join('; '), observedGeneration: generation }
    : { type: 'Drifted', status: 'False', reason: 'InSync', message: 'No key differs from what was applied.', observedGeneration: generation };

  const applied = appliedCondition(i.outcome, i.policyError, generation, i.previousConditions.find((c) => c.type === 'Applied'));
  const ready = readyCondition(applied, tableFullCondition, raceCondition);
  const conditions = setConditions(i.previousConditions, [ready, applied, driftCondition, pressureCondition, tableFullCondition, raceCondition], i.now);
  const findings = [...buildFindings(factsFrom(s, i.summary, i.drops.window, pressure)), ...(i.namespaces ? netnsFindings(i.namespaces.census, max, pressure) : [])];

  const status: NodeStatusDoc = {
    nodeName: i.nodeName,
    lastProbeTime: i.now.toISOString(),
    kernel: {
      release: s.kernelRelease ?? 'unknown',
      conntrackLoaded: s.moduleLoaded,
      ...(s.netns.host === null ? {} : { hostNetworkNamespace: s.netns.host }),
      notrackBackend: i.notrackBackend,
      tableSource: i.tableSource,
    },
    ...(count !== null && max !== null && buckets !== null
      ? {
          table: {
            count,
            max,
            buckets,
            usagePercent: round1(usage ?? 0),
            usage: `${Math.round(usage ?? 0)}%`,
            ...(chainLength(count, buckets) !== null ? { chainLength: round1(chainLength(count, buckets)!) } : {}),
            bytes: tableBytes(max, buckets, s.memory.slabObjectSize ?? FALLBACK_SLAB_OBJECT_SIZE),
            ...(s.memory.slabObjectSize !== null ? { slabObjectSize: s.memory.slabObjectSize } : {}),
          },
        }
      : {}),
    ...(c
      ? {
          counters: Object.fromEntries(
            (['drop', 'earlyDrop', 'insertFailed', 'clashResolve', 'invalid', 'searchRestart'] as const).filter((k) => c[k] !== undefined).map((k) => [k, c[k]!]),
          ),
        }
      : {}),
    ...(i.summary
      ? {
          breakdown: {
            entries: i.summary.total,
            byL3: i.summary.byL3,
            byProtocol: i.summary.byProtocol,
            tcpStates: i.summary.tcpStates,
            assured: i.summary.flags.assured,
            unreplied: i.summary.flags.unreplied,
            loopbackPercent: round1(i.summary.loopback.share * 100),
            topSources: i.summary.topSources.slice(0, 10),
          },
        }
      : {}),
    ...(effective && generations
      ? {
          appliedPolicy: {
            name: effective.selected.join(','),
            policies: effective.selected.map((name) => ({ name, generation: generations[name] ?? 0 })),
            mode: i.outcome.kind === 'reconciled' ? i.outcome.result.mode : effective.mode,
          },
        }
      : {}),
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
    ...(Object.keys(i.baseline.values).length || i.baseline.notrackOwned
      ? {
          baseline: {
            ...Object.fromEntries(Object.entries(i.baseline.values).map(([k, v]) => [k, String(v)])),
            ...(i.baseline.notrackOwned ? { notrack: 'none (our NOTRACK chains are removed on restore)' } : {}),
          },
        }
      : {}),
    ...(findings.length ? { findings: findings.slice(0, 32) } : {}),
    ...(i.namespaces ? { namespaces: buildNetnsStatus(i.namespaces.census, i.namespaces.previousDrops, max, pressure, i.namespaces.podNames) } : {}),
    conditions,
  };
  return { status, conditions };
}

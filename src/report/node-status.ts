// Builds a node's ConntrackStatus.status from one agent pass: what the kernel
// shows, what the policy asked, what the reconcile did. Pure; the same
// document goes to the status file (standalone) and the API (in a cluster).
import type { HostSnapshot } from '../kernel/snapshot.js';
import type { EffectivePolicy } from '../policy/effective.js';
import type { DriftRecord } from '../reconcile/drift.js';
import type { Baseline, Plan } from '../reconcile/planner.js';
import type { ReconcileResult } from '../reconcile/reconciler.js';
import type { RestoreResult } from '../reconcile/restore.js';
import { FALLBACK_SLAB_OBJECT_SIZE, tableBytes } from '../policy/sizing.js';
import { setConditions, type ConditionInput } from './conditions.js';
import { windowText, type DropWindow } from './drops.js';
import { DEFAULT_PRESSURE } from '../api/v1alpha1/policy-rules.js';
import { buildFindings, chainLength, factsFrom, usagePercent } from './findings.js';
import {
  Counters,
  NodeConditions,
  NodeReasons,
  type CountersDoc,
  type NetnsRowDoc,
  type NetnsSummaryDoc,
  type NodeConditionDoc,
  type NodeConditionTypeName,
  type NodeStatusDoc,
} from '../api/v1alpha1/status.js';
import type { TableSummary } from '../kernel/table-summary.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { netnsFindings } from './netns-findings.js';
import { buildNetnsStatus, otherNamespacesFullDrops, type NetnsDrops, type PodNames } from './netns-status.js';
import { netnsName } from './netns-name.js';
import type { WatchView } from './forecast.js';
import { fillingUpState, forecastFields, fullestDoc, fullestOf, growthOutlook, type Fullest } from './table-fill.js';
import { NO_PRESSURE_RESPONSE, type PressureResponseState } from '../policy/pressure-response.js';
import type { PressureThresholds } from '../policy/normalize.js';
import { pressureResponseCondition, pressureResponseSection } from './pressure-response-status.js';
import { changeText } from './plan-text.js';
import type { NodeCidrs, RangeKnowledge } from '../policy/cluster-cidrs.js';
import { refusedForUnknownRanges } from '../policy/guardrails.js';
import { withheldCondition, withheldSection } from './notrack-withheld.js';

type NodeConditionInput = ConditionInput<NodeConditionTypeName>;

/**
 * observedGeneration of every condition: the ConntrackStatus object's own
 * metadata.generation. The object has no spec (all of it is status, written
 * through the status subresource), so the API server keeps it at 1. Which
 * policy generations were applied is in appliedPolicy.policies[].generation.
 */
const STATUS_OBJECT_GENERATION = 1;

/** Applied condition reasons that mean the node could not be made to follow (or given back). */
export const FAILED_REASONS: ReadonlySet<string> = new Set([NodeReasons.Applied.ApplyFailed, NodeReasons.Applied.Error, NodeReasons.Applied.RestoreFailed]);

export type PassOutcome =
  | {
      kind: 'reconciled';
      effective: EffectivePolicy;
      /** The Enforce pass; with --dry-run, or with only DryRun fields and nothing to give back, the plan of every field. */
      result: ReconcileResult;
      generations: Record<string, number>;
      /** What the DryRun-won fields (with --dry-run, every field) would change: shown, never written. */
      pending?: Plan;
    }
  | { kind: 'restored'; result: RestoreResult }
  | { kind: 'no-policy' }
  | { kind: 'error'; message: string; effective?: EffectivePolicy; generations?: Record<string, number> };

interface DropSignal {
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
  /** The Service and Pod ranges NOTRACK rules were judged against, and where they came from. */
  cidrs: NodeCidrs;
  outcome: PassOutcome;
  baseline: Baseline;
  drops: DropSignal;
  /** Why the last policy input could not be used (an invalid edit), if so. */
  policyError?: string;
  /** This pass's namespace census and each namespace's drop counters at the previous pass. */
  namespaces?: { census: NetnsCensus; previousDrops: NetnsDrops | null; podNames?: PodNames };
  /** What the agent's watch saw between passes: the namespace to worry about, its forecast and FillingUp; absent where no watch runs. */
  watch?: WatchView;
  /** Whether the policy's pressure response is in force after this pass; absent is the same as no response. */
  pressureResponse?: PressureResponseState;
  previousConditions: readonly NodeConditionDoc[];
}

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

/** The withheld NOTRACK rules; undefined when the pass failed before checking. */
function withheldOf(outcome: PassOutcome) {
  return outcome.kind === 'reconciled' ? outcome.result.withheld : outcome.kind === 'error' ? undefined : [];
}

function appliedCondition(outcome: PassOutcome, policyError: string | undefined, previous: NodeConditionDoc | undefined): NodeConditionInput {
  const base = { type: NodeConditions.Applied, observedGeneration: STATUS_OBJECT_GENERATION };
  switch (outcome.kind) {
    case 'no-policy':
      // After a restore the node stays "Restored" until a policy selects it again.
      if (previous?.reason === NodeReasons.Applied.Restored) return { ...base, status: previous.status, reason: previous.reason, message: previous.message };
      return {
        ...base,
        status: 'False',
        reason: NodeReasons.Applied.NoPolicy,
        message: 'No ConntrackPolicy selects this node; its kernel settings are its own.',
      };
    case 'restored':
      return outcome.result.ok
        ? {
            ...base,
            status: 'False',
            reason: NodeReasons.Applied.Restored,
            message: 'No policy selects this node any more: the values from before the first change were put back and our NOTRACK rules removed.',
          }
        : {
            ...base,
            status: 'False',
            reason: NodeReasons.Applied.RestoreFailed,
            message: `Putting back the original values failed: ${executionError(outcome.result.execution) ?? notApplicableText(outcome.result.plan.notApplicable)}`,
          };
    case 'error':
      return { ...base, status: 'False', reason: NodeReasons.Applied.Error, message: outcome.message };
    case 'reconciled':
      return { ...base, ...reconciledOutcome(outcome, policyError) };
  }
}

/**
 * Applied after a reconcile: failed and rolled back, DryRun (nothing enforced:
 * the plan, and what was given back), not in sync yet, or applied (with the
 * plan of any DryRun fields).
 */
function reconciledOutcome({ effective, result: r, pending }: Reconciled, policyError: string | undefined): ConditionOutcome {
  const names = effective.selected.join(', ');
  const invalid = policyError ? ` The latest policy edit was not used: ${policyError}` : '';
  const withheld = r.withheld.length ? ` NOTRACK rule(s) withheld: ${r.withheld.map((w) => w.rule).join(', ')} (see NotrackWithheld).` : '';
  if (r.execution && !r.execution.ok) {
    return {
      status: 'False',
      reason: NodeReasons.Applied.ApplyFailed,
      message: `Applying ${names} failed and was rolled back: ${executionError(r.execution)}.${invalid}`,
    };
  }
  const planOnly = r.mode === 'DryRun';
  // One list, by key: the plan's and the Enforce pass's (a value that cannot be given back) reasons.
  const notApplicable = [...new Map([...r.notApplicable, ...(planOnly ? [] : (pending?.notApplicable ?? []))].map((n) => [n.key, n])).values()];
  const skipped = notApplicable.length ? ` Not applicable here: ${notApplicableText(notApplicable)}.` : '';
  if (planOnly || effective.mode === 'DryRun') {
    const givenBack = r.execution ? ` Given back, as no Enforce policy asks for them any more: ${r.execution.applied.map((a) => a.key).join(', ')}.` : '';
    return {
      status: 'False',
      reason: NodeReasons.Applied.DryRun,
      message: `${names} is in DryRun: ${dryRunText(pending ?? r.plan)}, nothing of it is written.${givenBack}${skipped}${withheld}${invalid}`,
    };
  }
  const planned = pending ? ` Its DryRun fields: ${dryRunText(pending)}, not written.` : '';
  if (!r.inSync)
    return {
      status: 'False',
      reason: NodeReasons.Applied.NotInSync,
      message: `The node does not match ${names} yet.${skipped}${withheld}${planned}${invalid}`,
    };
  return { status: 'True', reason: NodeReasons.Applied.Applied, message: `The node matches ${names}.${skipped}${withheld}${planned}${invalid}` };
}

function dryRunText(p: Plan): string {
  const keys = p.actions.map((a) => a.key);
  if (keys.length > 0) return `${keys.length} change(s) would be made (${keys.join(', ')})`;
  return p.notApplicable.length ? 'nothing that differs can be changed here' : 'the node already matches';
}

function executionError(e: ReconcileResult['execution']): string | undefined {
  return e?.failed ? `${e.failed.action.key}: ${e.failed.error}` : undefined;
}

function notApplicableText(items: ReconcileResult['notApplicable']): string {
  return items.map((n) => `${n.key} (${n.reason})`).join('; ');
}

/** The summary kubectl wait, kstatus and dashboards look for: False when the node cannot follow its policy or drops packets now. */
function readyCondition(applied: NodeConditionInput, full: NodeConditionInput, race: NodeConditionInput): NodeConditionInput {
  const base = { type: NodeConditions.Ready, observedGeneration: applied.observedGeneration };
  if (FAILED_REASONS.has(applied.reason)) return { ...base, status: 'False', reason: applied.reason, message: applied.message };
  for (const c of [full, race]) {
    if (c.status === 'True') return { ...base, status: 'False', reason: c.type, message: c.message };
  }
  return {
    ...base,
    status: 'True',
    reason: NodeReasons.Ready.Ready,
    message:
      'The agent reads this node, it follows its policy (or has none), no network namespace drops packets for a full table, and none are lost to insertion races.',
  };
}

/** How full the fullest namespace (the host's or another) is against the policy's thresholds. */
function pressureState(fullest: Fullest | null, hostUsage: number | null, max: number | null, pressure: PressureThresholds): ConditionOutcome {
  const r = NodeReasons.Pressure;
  if (!fullest) return { status: 'Unknown', reason: r.Unreadable, message: 'The entry count or the max could not be read.' };
  const pct = `${round1(fullest.usage)}%`;
  // The host's own table keeps the wording it always had; another namespace is named, next to the host's figure.
  const what = fullest.naming.host
    ? `The table is ${pct} full (${fullest.entries} of ${max})`
    : `The fullest network namespace, ${netnsName(fullest.naming)}, is ${pct} full (${fullest.entries} of ${max}; the host's own table ${hostUsage === null ? 'unread' : `${round1(hostUsage)}%`})`;
  if (fullest.usage >= pressure.criticalPercent) return { status: 'True', reason: r.Critical, message: `${what}; at 100% its new connections are dropped.` };
  if (fullest.usage >= pressure.warningPercent) return { status: 'True', reason: r.Warning, message: `${what}.` };
  return { status: 'False', reason: r.Normal, message: fullest.naming.host ? `The table is ${pct} full.` : `${what}.` };
}

/** Whether keys moved away from what was applied, and whether another writer keeps moving them. */
function driftState(outcome: PassOutcome): ConditionOutcome {
  const drift = driftOf(outcome);
  const r = NodeReasons.Drifted;
  if (outcome.kind === 'error') return { status: 'Unknown', reason: r.NotChecked, message: 'The last pass failed before comparing the node with the policy.' };
  if (drift.length) return { status: 'True', reason: drift.some((d) => d.fighting) ? r.Fighting : r.Drift, message: drift.map(driftText).join('; ') };
  return { status: 'False', reason: r.InSync, message: 'No key differs from what was applied.' };
}

/** Why drops could not be judged this pass: counters unread, or only one sample so far. */
function notJudged(countersRead: boolean): ConditionOutcome {
  return countersRead
    ? { status: 'Unknown', reason: NodeReasons.TableFull.FirstSample, message: 'Drops are judged between two reads of the counters; this is the first.' }
    : {
        status: 'Unknown',
        reason: NodeReasons.TableFull.CountersUnreadable,
        message: "The kernel's conntrack counters could not be read: see the findings and what was not read.",
      };
}

/** The other namespaces dropping for a full table now, named (the status lists them in namespaces.full). */
function namespacesDroppingText(full: readonly NetnsRowDoc[], w: DropWindow | null): string {
  const [first, ...rest] = full;
  if (!first) return '';
  const more = rest.length ? `; and ${rest.map((r) => `${netnsName({ ...r, host: false })} (${r.dropsRising})`).join(', ')}` : '';
  return `${netnsName({ ...first, host: false })} dropped ${first.dropsRising} packets of new connections ${w ? windowText(w) : 'since the previous pass'} because its table is full${more}`;
}

/**
 * Drops because no entry could be allocated, in the agent's own namespace or
 * in any other (each has its own count against the one max), or the kernel's
 * own "table full" line.
 */
function tableFullCondition(d: DropSignal, unjudged: ConditionOutcome, full: readonly NetnsRowDoc[]): NodeConditionInput {
  const base = { type: NodeConditions.TableFull, observedGeneration: STATUS_OBJECT_GENERATION };
  const r = NodeReasons.TableFull;
  const w = d.window;
  const others = namespacesDroppingText(full, w);
  const also = others ? ` Also: ${others}.` : '';
  if (w && w.tableFull > 0) {
    return {
      ...base,
      status: 'True',
      reason: r.Dropping,
      message: `The table is full: ${w.tableFull} packets of new connections were dropped ${windowText(w)} because no entry could be allocated.${also}`,
    };
  }
  if (d.kernelLoggedFull)
    return {
      ...base,
      status: 'True',
      reason: r.KernelReportedFull,
      message: `The kernel logged "nf_conntrack: table full, dropping packet" for this node.${also}`,
    };
  if (others) return { ...base, status: 'True', reason: r.NamespaceDropping, message: `A network namespace's table is full: ${others}.` };
  if (!w) return { ...base, ...unjudged };
  return { ...base, status: 'False', reason: r.NotDropping, message: `No connections dropped for a full table ${windowText(w)}, in any network namespace.` };
}

/** Drops because two packets of one new flow raced to insert it: not a full table, and not fixed by a bigger one. */
function insertionRaceCondition(w: DropWindow | null, unjudged: ConditionOutcome, usage: number | null): NodeConditionInput {
  const base = { type: NodeConditions.InsertionRace, observedGeneration: STATUS_OBJECT_GENERATION };
  if (!w) return { ...base, ...unjudged };
  if (w.insertionRace > 0) {
    const fill = usage === null ? '' : ` with the table ${round1(usage)}% full`;
    return {
      ...base,
      status: 'True',
      reason: NodeReasons.InsertionRace.RaceDrops,
      message: `${w.insertionRace} packets were dropped ${windowText(w)}${fill} because two packets of one new flow raced to insert it (drop and insert_failed rose together): the UDP/DNS race. NOTRACK DNS or set resolver options single-request-reopen / use-vc; see the findings.`,
    };
  }
  return { ...base, status: 'False', reason: NodeReasons.InsertionRace.NoRaceDrops, message: `No packets dropped for an insertion race ${windowText(w)}.` };
}

/** What the conditions are judged from, besides the inputs. */
interface Judged {
  /** The host's (the agent's own namespace's) count / max, in %. */
  usage: number | null;
  fullest: Fullest | null;
  pressure: PressureThresholds;
  namespaces: NetnsSummaryDoc | null;
}

/** Whether the Service and Pod ranges NOTRACK rules must stay off are known, where from, and which rules wait for them. */
function cidrsCondition(c: NodeCidrs, outcome: PassOutcome): NodeConditionInput {
  const base = { type: NodeConditions.ClusterCidrsKnown, observedGeneration: STATUS_OBJECT_GENERATION };
  const said = (kind: string, k: RangeKnowledge) => (k.cidrs ? `${kind}: ${k.cidrs.join(', ')} (${k.from})` : `${kind}: not known (${k.why})`);
  const ranges = `${said('Service', c.service)}; ${said('Pod', c.pod)}.`;
  if (!c.kubernetesNode) {
    const message = `Not a Kubernetes node (no kubelet or kube-proxy runs here): NOTRACK rules need no Service or Pod ranges. ${ranges}`;
    return { ...base, status: 'True', reason: NodeReasons.ClusterCidrsKnown.NotKubernetes, message };
  }
  if (c.service.cidrs && c.pod.cidrs) return { ...base, status: 'True', reason: NodeReasons.ClusterCidrsKnown.Known, message: ranges };
  const waiting = (effectiveOf(outcome)?.refused ?? []).filter((r) => refusedForUnknownRanges(r.message)).map((r) => `${r.path} of ${r.policy}`);
  const refused = waiting.length ? `: refused now ${waiting.join(', ')}` : '';
  return {
    ...base,
    status: 'False',
    reason: NodeReasons.ClusterCidrsKnown.Unknown,
    message: `${ranges} Until both are known, NOTRACK rules that are not node-local (destinations within 127.0.0.0/8, ::1, 169.254.0.0/16, fe80::/10) are refused${refused}. Give them with agent.serviceCidrs / agent.podCidrs (--service-cidr / --pod-cidr).`,
  };
}

/** This pass's conditions, Ready first. */
function conditionsOf(i: NodeStatusInputs, j: Judged): NodeConditionInput[] {
  const unjudged = notJudged(i.snapshot.stats.counters !== null);
  const full = tableFullCondition(i.drops, unjudged, j.namespaces?.full ?? []);
  const race = insertionRaceCondition(i.drops.window, unjudged, j.usage);
  const applied = appliedCondition(
    i.outcome,
    i.policyError,
    i.previousConditions.find((c) => c.type === NodeConditions.Applied),
  );
  const ready = readyCondition(applied, full, race);
  const writes = i.outcome.kind === 'reconciled' && i.outcome.result.mode === 'Enforce';
  const outlook = growthOutlook(effectiveOf(i.outcome), writes, i.snapshot.table.max);
  // Drifted and Pressure carry observedGeneration last, as they always have.
  return [
    ready,
    applied,
    { type: NodeConditions.Drifted, ...driftState(i.outcome), observedGeneration: STATUS_OBJECT_GENERATION },
    { type: NodeConditions.Pressure, ...pressureState(j.fullest, j.usage, i.snapshot.table.max, j.pressure), observedGeneration: STATUS_OBJECT_GENERATION },
    full,
    race,
    { type: NodeConditions.FillingUp, observedGeneration: STATUS_OBJECT_GENERATION, ...fillingUpState(i.watch, i.namespaces?.podNames, outlook) },
    {
      type: NodeConditions.PressureResponse,
      ...pressureResponseCondition(i.pressureResponse ?? NO_PRESSURE_RESPONSE, j.usage),
      observedGeneration: STATUS_OBJECT_GENERATION,
    },
    cidrsCondition(i.cidrs, i.outcome),
    { ...withheldCondition(withheldOf(i.outcome)), observedGeneration: STATUS_OBJECT_GENERATION },
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

function tableSection(i: NodeStatusInputs, usage: number | null, fullest: Fullest | null): Pick<NodeStatusDoc, 'table'> {
  const {
    table: { count, max, buckets },
    memory,
  } = i.snapshot;
  if (count === null || max === null || buckets === null) return {};
  const chain = chainLength(count, buckets);
  const w = i.drops.window;
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
      ...(fullest ? { fullest: fullestDoc(fullest) } : {}),
      ...forecastFields(i.watch, i.namespaces?.podNames),
      // The agent's own namespace's window, plus every other namespace's drops over the same pass-to-pass window.
      ...(w ? { dropsNow: w.tableFull + (i.namespaces ? otherNamespacesFullDrops(i.namespaces.census, i.namespaces.previousDrops) : 0) } : {}),
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
      // With --dry-run nothing is enforced, whatever the policies say.
      mode: outcome.kind === 'reconciled' && outcome.result.mode === 'DryRun' ? 'DryRun' : effective.mode,
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

/** What the DryRun fields would change: the plan, which is not drift (nothing of it was applied). */
function planSection(outcome: PassOutcome): Pick<NodeStatusDoc, 'plan'> {
  const actions = outcome.kind === 'reconciled' ? (outcome.pending?.actions ?? []) : [];
  return actions.length ? { plan: actions.slice(0, 64).map((a) => ({ key: a.key, change: changeText(a) })) } : {};
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

function findingsSection(i: NodeStatusInputs, pressure: PressureThresholds): Pick<NodeStatusDoc, 'findings'> {
  const host = buildFindings(factsFrom(i.snapshot, i.summary, i.drops.window, pressure));
  const findings = [...host, ...(i.namespaces ? netnsFindings(i.namespaces.census, i.snapshot.table.max, pressure) : [])];
  return findings.length ? { findings: findings.slice(0, 32) } : {};
}

function namespacesOf(i: NodeStatusInputs, pressure: PressureThresholds): NetnsSummaryDoc | null {
  const ns = i.namespaces;
  return ns ? buildNetnsStatus(ns.census, ns.previousDrops, i.snapshot.table.max, pressure, ns.podNames) : null;
}

/** The pressure thresholds in effect: the policy's, or the defaults without one (conditions and metrics both judge by them). */
export function pressureInEffect(outcome: PassOutcome): PressureThresholds {
  return effectiveOf(outcome)?.pressure ?? DEFAULT_PRESSURE;
}

export function buildNodeStatus(i: NodeStatusInputs): { status: NodeStatusDoc; conditions: NodeConditionDoc[] } {
  const pressure = pressureInEffect(i.outcome);
  const usage = usagePercent(i.snapshot.table.count, i.snapshot.table.max);
  const namespaces = namespacesOf(i, pressure);
  const fullest = fullestOf(i.namespaces?.census ?? null, i.snapshot, i.namespaces?.podNames);
  const conditions = setConditions(i.previousConditions, conditionsOf(i, { usage, fullest, pressure, namespaces }), i.now);
  const status: NodeStatusDoc = {
    nodeName: i.nodeName,
    lastProbeTime: i.now.toISOString(),
    ...kernelSection(i),
    ...tableSection(i, usage, fullest),
    ...countersSection(i.snapshot.stats.counters),
    ...breakdownSection(i.summary),
    ...appliedPolicySection(i.outcome),
    ...driftSection(driftOf(i.outcome)),
    ...planSection(i.outcome),
    ...baselineSection(i.baseline),
    ...findingsSection(i, pressure),
    ...(namespaces ? { namespaces } : {}),
    ...pressureResponseSection(i.pressureResponse),
    ...withheldSection(withheldOf(i.outcome) ?? []),
    conditions,
  };
  return { status, conditions };
}

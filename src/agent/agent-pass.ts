// One pass of the node agent: read the host, compute the node's effective
// policy, reconcile, and publish status and metrics. It keeps nothing: what
// the next pass needs comes back in the result's state.
import type { Host } from '../kernel/host.js';
import type { Logger } from '../logger.js';
import { readHostReading, type HostSnapshot } from '../kernel/snapshot.js';
import type { NetnsCensus, NetnsCensusRow } from '../kernel/netns-census.js';
import { netnsDrops, type PodNames } from '../report/netns-status.js';
import { openTableStream } from '../kernel/table-stream.js';
import { effectivePolicy, type EffectivePolicy } from '../policy/effective.js';
import { nodeFacts, runsKubernetes } from '../kernel/node-facts.js';
import { guardrailCidrs, nodeCidrs, type DiscoveredCidrs, type NodeCidrs } from '../policy/cluster-cidrs.js';
import type { Labels } from '../policy/select.js';
import type { BaselineStore } from '../reconcile/baseline-store.js';
import type { Reconciler, ReconcileResult } from '../reconcile/reconciler.js';
import { dryRunKeys, holdsChanges, planOf, type Plan } from '../reconcile/planner.js';
import type { AgentMetrics, ReconcileResultLabel as MetricResult } from '../metrics/registries.js';
import { buildNodeStatus, pressureInEffect, type NodeStatusInputs, type PassOutcome } from '../report/node-status.js';
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';
import { dropWindow } from '../report/drops.js';
import { summarizeBatches } from '../kernel/table-summary.js';
import type { PolicySource } from './policy-source.js';
import { errorText } from '../errors.js';
import {
  breakdownDue,
  calmSince,
  dropBaselineAt,
  droppingFull,
  passDrops,
  recordDrops,
  type AgentState,
  type PassDrops,
  type TableBreakdown,
} from './agent-state.js';
import { evaluatePressureResponse, withPressureTimeouts, type PressureResponseState } from '../policy/pressure-response.js';
import { usagePercent } from '../report/findings.js';
import type { Action } from '../reconcile/planner.js';
import { MAX_SYSCTL } from '../policy/sysctl-keys.js';
import type { WatchView } from '../report/forecast.js';
import { DEFAULT_PRESSURE } from '../api/v1alpha1/policy-rules.js';
import { DEFAULT_GROW_AHEAD_SECONDS, GIVE_BACK_BELOW } from '../policy/sizing.js';
import type { TableWatch, WatchSettings } from './table-watch.js';

/** What a pass takes from the table watch and gives back to it. */
export type PassWatch = Pick<TableWatch, 'view' | 'rebase'>;

export interface PassOptions {
  nodeName: string;
  intervalMs: number;
  /** How often the table itself is dumped for the breakdown (a big table costs seconds of CPU). */
  breakdownIntervalMs: number;
  /** Never write, whatever the policies say (npm start, --dry-run). */
  forceDryRun: boolean;
  /** --service-cidr / --pod-cidr: win over what the cluster states. */
  serviceCidrs: string[];
  podCidrs: string[];
  notrackBackend: NodeStatusInputs['notrackBackend'];
}

export interface PassDeps {
  /** The host, and its clock: every time a pass reads or stamps comes from it. */
  host: Host;
  logger: Logger;
  policies: PolicySource;
  nodeLabels: () => Labels;
  reconciler: Reconciler;
  baselineStore: BaselineStore;
  metrics: AgentMetrics;
  /** Where the status goes: a file standalone, the API (and Node events) in a cluster. */
  publish: (status: NodeStatusDoc, outcome: PassOutcome, previous: NodeStatusDoc | null) => Promise<void>;
  /** "table full" lines from the kernel log for our namespace since the last call. */
  takeKernelTableFull?: () => boolean;
  /** In a cluster: the namespace and name of a pod on this node, by UID (undefined when not known). */
  podNames?: PodNames;
  /** In a cluster: the Service and Pod ranges as the cluster states them (or why they are not known). */
  discoveredCidrs?: () => DiscoveredCidrs;
}

export interface PassResult {
  /** What the next pass starts from. */
  state: AgentState;
  outcome: PassOutcome;
  /** The status this pass built; null when the host could not be read or the status not built. */
  status: NodeStatusDoc | null;
}

type Policies = ReturnType<PolicySource['current']>['policies'];

export class AgentPass {
  constructor(
    private readonly opts: PassOptions,
    private readonly deps: PassDeps,
    /** The table watch between passes: what it saw goes into the pass, the census goes back to it. */
    private readonly watch: PassWatch | null = null,
  ) {}

  /** One pass from `prev` (and what the watch has seen since); never throws (a failed pass is reported and retried on the next tick). */
  async run(prev: AgentState): Promise<PassResult> {
    const watch = this.watch;
    const started = this.deps.host.clock();
    const view = watch?.view() ?? null;
    const log = this.deps.logger;
    let outcome: PassOutcome;
    let wouldChange = prev.wouldChange;
    let pressureResponse = prev.pressureResponse;
    let snapshot: HostSnapshot | null = null;
    let census: NetnsCensus | null = null;
    let drops: PassDrops | null = null;
    let calm = { calm: false, gaveBack: false };
    const policyInput = this.deps.policies.current();
    let cidrs: NodeCidrs | null = null;
    try {
      // Every namespace's own count and drops too: a pod's full table never shows in the host's, and the fullest sizes max.
      ({ snapshot, census } = await readHostReading(this.deps.host));
      cidrs = nodeCidrs(this.opts, this.deps.discoveredCidrs?.() ?? null, runsKubernetes(snapshot));
      drops = census ? passDrops(census, snapshot.stats.counters) : null;
      const dropping = drops ? droppingFull(prev.lastPassDrops, drops) : [];
      const calmFor = prev.calmSinceMs !== null && !view?.filling && dropping.length === 0 ? (started - prev.calmSinceMs) / 1000 : 0;
      ({ outcome, wouldChange, pressureResponse } = await this.reconcile(snapshot, cidrs, census, policyInput.policies, prev, { view, dropping, calmFor }));
      calm = calmNow(outcome, view, dropping);
    } catch (err) {
      outcome = { kind: 'error', message: errorText(err) };
      log.error({ err: outcome.message }, 'reconcile pass failed');
    }
    const seconds = (this.deps.host.clock() - started) / 1000;
    this.deps.metrics.observeReconcile(metricResult(outcome), seconds, ownedRules(outcome), this.deps.host.clock() / 1000);
    const reported =
      snapshot && cidrs ? await this.report(snapshot, cidrs, census, view, outcome, policyInput.error, prev, pressureResponse) : { state: prev, status: null };
    if (census) watch?.rebase(census, this.watchSettings(outcome, pressureResponse));
    const state: AgentState = {
      ...reported.state,
      lastPassDrops: drops ?? prev.lastPassDrops,
      calmSinceMs: calmSince(prev.calmSinceMs, calm.calm, calm.gaveBack, started),
      wouldChange,
      pressureResponse,
      passesDone: prev.passesDone + 1,
      lastPassError: outcome.kind === 'error' ? outcome.message : null,
      lastPassEndMs: this.deps.host.clock(),
    };
    return { state, outcome, status: reported.status };
  }

  private async reconcile(
    snapshot: HostSnapshot,
    cidrs: NodeCidrs,
    census: NetnsCensus | null,
    policies: Policies,
    prev: AgentState,
    seen: { view: WatchView | null; dropping: number[]; calmFor: number },
  ): Promise<{ outcome: PassOutcome; wouldChange: string; pressureResponse: PressureResponseState }> {
    const log = this.deps.logger;
    const lastWouldChange = prev.wouldChange;
    // Ahead of a full table: the watch's forecast where it trusts one; behind it: drops for a full table since the last pass.
    const forecast = seen.view?.focus?.forecast;
    const facts = {
      ...nodeFacts(snapshot, guardrailCidrs(cidrs), census),
      ...(forecast && forecast.secondsToFull !== null ? { forecast: { level: forecast.level, ratePerSecond: forecast.ratePerSecond } } : {}),
      droppingFull: seen.dropping.length > 0,
      calmForSeconds: seen.calmFor,
    };
    const effective = effectivePolicy(policies, this.deps.nodeLabels(), facts);
    const generations = Object.fromEntries(
      policies.filter((p) => effective.selected.includes(p.metadata.name)).map((p) => [p.metadata.name, p.metadata.generation ?? 1]),
    );
    if (effective.selected.length === 0) {
      const outcome = await this.noPolicy();
      return { outcome, wouldChange: lastWouldChange, pressureResponse: await this.pressureResponse(prev.pressureResponse, snapshot, effective) };
    }
    logProblems(log, effective);
    const pressureResponse = await this.pressureResponse(prev.pressureResponse, snapshot, effective);
    const { result, pending } = await this.enforceAndPlan(effective, pressureResponse);
    const policyLog = log.child({ policy: effective.selected.join(',') });
    let wouldChange = lastWouldChange;
    if (result.execution && !result.execution.ok) policyLog.error({ failed: result.execution.failed }, 'applying the policy failed; rolled back');
    else if (result.execution) {
      policyLog.info({ applied: result.execution.applied.length }, 'policy applied');
      logTableSize(policyLog, effective, result.execution.applied, seen, census?.namespaces.filter((r) => seen.dropping.includes(r.key)) ?? []);
    }
    if (pending)
      wouldChange = logWouldChange(
        policyLog,
        lastWouldChange,
        pending.actions.map((a) => a.key),
        [
          ...pending.notApplicable.map((n) => ({ key: n.key, reason: n.reason })),
          ...result.withheld.map((w) => ({ key: `notrack/${w.rule}`, reason: w.message })),
        ],
      );
    return { outcome: { kind: 'reconciled', effective, result, generations, ...(pending ? { pending } : {}) }, wouldChange, pressureResponse };
  }

  /**
   * Whether the policy's pressure response is in force now, from the usage of
   * our own namespace: timeouts are per namespace, so ours are the only ones
   * it lowers; logged when it starts and ends.
   */
  private async pressureResponse(prev: PressureResponseState, snapshot: HostSnapshot, effective: EffectivePolicy): Promise<PressureResponseState> {
    const usage = usagePercent(snapshot.table.count, snapshot.table.max);
    const response = effective.pressureResponse && {
      spec: effective.pressureResponse.spec,
      enforced: !this.opts.forceDryRun && effective.pressureResponse.mode === 'Enforce',
    };
    // What would be there without the response: the values this pass writes, or for a planned response the policy's.
    const policyOwn = response?.enforced ? effective.enforced.sysctls : effective.desired.sysctls;
    // The node's own value of a key we changed is its baseline, not what the kernel shows now.
    const nodeOwn = response ? { ...snapshot.sysctls, ...(await this.deps.baselineStore.load()).values } : {};
    const next = evaluatePressureResponse(prev, {
      usagePercent: usage,
      ...(response ? { response } : {}),
      policyOwn,
      nodeOwn,
      nowMs: this.deps.host.clock(),
    });
    const log = this.deps.logger.child({ policy: effective.selected.join(',') });
    const usagePercentNow = usage === null ? null : Math.round(usage * 10) / 10;
    if (next.active && !prev.active) {
      log.warn(
        { usagePercent: usagePercentNow, startPercent: next.thresholds?.startPercent, timeouts: next.timeouts, dryRun: !next.enforced },
        'pressure response started: shorter timeouts in force',
      );
    } else if (prev.active && !next.active) {
      log.info(
        { usagePercent: usagePercentNow, stopPercent: next.thresholds?.stopPercent ?? null },
        next.thresholds ? "pressure response ended: the policy's own timeouts are back" : 'pressure response ended: no policy sets one any more',
      );
    }
    return next;
  }

  /**
   * One rule for what is written: the fields Enforce policies win are enforced,
   * and a value or rule no Enforce policy asks for any more is given back (the
   * Enforce pass plans the baseline for the keys it no longer has). The fields
   * DryRun policies win are only planned, over the node as the Enforce pass
   * left it. --dry-run plans everything and writes nothing, give-backs included.
   */
  private async enforceAndPlan(effective: EffectivePolicy, pressure: PressureResponseState): Promise<{ result: ReconcileResult; pending: Plan | null }> {
    const reconciler = this.deps.reconciler;
    const desired = withPressureTimeouts(effective.desired, pressure, 'DryRun');
    const enforced = withPressureTimeouts(effective.enforced, pressure, 'Enforce');
    const nothingEnforced = effective.mode === 'DryRun';
    if (this.opts.forceDryRun || (nothingEnforced && !holdsChanges(await this.deps.baselineStore.load()))) {
      const result = await reconciler.reconcile(desired, 'DryRun');
      return { result, pending: result.plan };
    }
    const result = await reconciler.reconcile(enforced, 'Enforce');
    const keys = dryRunKeys(desired, enforced);
    if (keys.size === 0) return { result, pending: null };
    return { result, pending: planOf((await reconciler.reconcile(desired, 'DryRun')).plan, keys) };
  }

  /** What the watch judges by until the next pass: the policy's horizon and warning threshold, whether autoSize may still grow max, and the pressure response. */
  private watchSettings(outcome: PassOutcome, pressureResponse: PressureResponseState): WatchSettings {
    const effective = 'effective' in outcome ? outcome.effective : undefined;
    const auto = effective?.autoSize;
    const enforced = effective?.enforced.sysctls[MAX_SYSCTL] !== undefined;
    return {
      horizonSeconds: effective?.growAheadSeconds ?? DEFAULT_GROW_AHEAD_SECONDS,
      warningPercent: (effective?.pressure ?? DEFAULT_PRESSURE).warningPercent,
      canGrow: !this.opts.forceDryRun && enforced && auto !== undefined && auto.max < auto.ceiling,
      pressureResponse,
    };
  }

  /** No policy selects the node: put back what we changed (unless told never to write). */
  private async noPolicy(): Promise<PassOutcome> {
    const baseline = await this.deps.baselineStore.load();
    if (!holdsChanges(baseline)) return { kind: 'no-policy' };
    if (this.deps.policies.ready?.() === false) {
      this.deps.logger.info({}, 'policies not known yet (API not answered, no cache): not restoring');
      return { kind: 'no-policy' };
    }
    if (this.opts.forceDryRun) {
      this.deps.logger.info({ keys: Object.keys(baseline.values) }, 'DryRun: no policy selects this node; restore not done');
      return { kind: 'no-policy' };
    }
    const result = await this.deps.reconciler.restore();
    if (result.ok) this.deps.logger.info({ restored: result.plan.actions.map((a) => a.key) }, 'no policy selects this node: restored the original values');
    else this.deps.logger.error({ notApplicable: result.plan.notApplicable, failed: result.execution?.failed }, 'restore failed');
    return { kind: 'restored', result };
  }

  /** Builds, observes and publishes the status; a failure is logged and leaves the drop baseline, conditions and last status as they were. */
  private async report(
    snapshot: HostSnapshot,
    cidrs: NodeCidrs,
    census: NetnsCensus | null,
    watch: WatchView | null,
    outcome: PassOutcome,
    policyError: string | undefined,
    prev: AgentState,
    pressureResponse: PressureResponseState,
  ): Promise<{ state: AgentState; status: NodeStatusDoc | null }> {
    const now = new Date(this.deps.host.clock());
    const counters = snapshot.stats.counters;
    const carried: AgentState = { ...prev, breakdown: await this.breakdown(snapshot, now, prev.breakdown) };
    let reported: { state: AgentState; status: NodeStatusDoc } | null = null;
    try {
      const sample = counters ? { atMs: now.getTime(), counters } : null;
      const baseline = dropBaselineAt(prev.dropHistory, now.getTime(), this.opts.intervalMs);
      const { status, conditions } = buildNodeStatus({
        nodeName: this.opts.nodeName,
        now,
        snapshot,
        summary: carried.breakdown.summary,
        tableSource: carried.breakdown.source,
        notrackBackend: this.opts.notrackBackend,
        cidrs,
        outcome,
        baseline: await this.deps.baselineStore.load(),
        drops: {
          window: sample && baseline?.counters ? dropWindow(baseline.counters, sample) : null,
          kernelLoggedFull: this.deps.takeKernelTableFull?.() ?? false,
        },
        ...(policyError ? { policyError } : {}),
        ...(census ? { namespaces: { census, previousDrops: baseline?.netns ?? null, podNames: this.deps.podNames } } : {}),
        pressureResponse,
        ...(watch ? { watch } : {}),
        previousConditions: prev.conditions,
      });
      const dropHistory = recordDrops(
        prev.dropHistory,
        { counters: sample, netns: census ? netnsDrops(census) : null, atMs: now.getTime() },
        this.opts.intervalMs,
      );
      reported = { state: { ...carried, dropHistory, conditions, status }, status };
      this.deps.metrics.observeTable({
        count: snapshot.table.count,
        max: snapshot.table.max,
        buckets: snapshot.table.buckets,
        counters: snapshot.stats.counters,
      });
      this.deps.metrics.observeNamespaces(status.namespaces ?? null);
      this.deps.metrics.observeFill(status.table, pressureInEffect(outcome));
      this.deps.metrics.observeDrift(outcome.kind === 'reconciled' ? outcome.result.drift.map((d) => d.key) : []);
      this.deps.metrics.observePressureResponse(pressureResponse.active);
      this.deps.metrics.observePlanPending(outcome.kind === 'reconciled' ? (outcome.pending?.actions.map((a) => a.key) ?? []) : []);
      this.deps.metrics.observeNotrackWithheld(outcome.kind === 'reconciled' ? outcome.result.withheld.length : outcome.kind === 'error' ? null : 0);
      try {
        await this.deps.publish(status, outcome, prev.status);
      } catch (err) {
        this.deps.logger.warn({ err: errorText(err) }, 'publishing the status failed; next pass retries');
      }
    } catch (err) {
      this.deps.logger.error({ err: errorText(err) }, 'building or publishing the status failed');
    }
    return reported ?? { state: carried, status: null };
  }

  /** The table breakdown, dumped again when due; a failed dump keeps the last one. */
  private async breakdown(snapshot: HostSnapshot, now: Date, last: TableBreakdown): Promise<TableBreakdown> {
    if (!snapshot.moduleLoaded || !breakdownDue(last, now.getTime(), this.opts.breakdownIntervalMs)) return last;
    const tried = { ...last, atMs: now.getTime() };
    try {
      const stream = await openTableStream(this.deps.host);
      if (stream.source === null) return { ...tried, source: 'none' };
      const summary = await summarizeBatches(stream.batches, { sysctls: snapshot.sysctls });
      return { summary, source: stream.source === 'file' ? 'procfs' : 'conntrack-tool', atMs: tried.atMs };
    } catch (err) {
      this.deps.logger.warn({ err: errorText(err) }, 'reading the table for the breakdown failed');
      return tried;
    }
  }
}

/** DryRun: say what would change when that changes, not on every pass. Returns what was said. */
function logWouldChange(log: Logger, last: string, keys: string[], cannotChangeHere: Array<{ key: string; reason: string }>): string {
  const text = JSON.stringify([keys, cannotChangeHere]);
  if (text === last) return last;
  const msg = keys.length
    ? 'DryRun: changes not made'
    : cannotChangeHere.length
      ? 'DryRun: nothing that differs can be changed here'
      : 'DryRun: the node matches the policy';
  log.info({ wouldChange: keys, ...(cannotChangeHere.length ? { cannotChangeHere } : {}) }, msg);
  return text;
}

function logProblems(log: Logger, e: EffectivePolicy): void {
  for (const c of e.conflicts)
    log.warn({ policy: c.policies.join(','), field: c.field, values: c.values }, 'policies conflict at equal priority: field not applied');
  for (const r of e.refused) log.warn({ policy: r.policy, field: r.path, reason: r.message }, 'guardrail refused a field: not applied');
}

function metricResult(o: PassOutcome): MetricResult {
  switch (o.kind) {
    case 'reconciled':
      if (o.result.execution) return o.result.execution.ok ? 'applied' : 'failed';
      if (o.result.mode === 'DryRun' || o.effective.mode === 'DryRun') return 'dry_run';
      return o.result.inSync ? 'in_sync' : 'not_applicable';
    case 'restored':
      return o.result.ok ? 'restored' : 'failed';
    case 'no-policy':
      return 'in_sync';
    case 'error':
      return 'failed';
  }
}

function ownedRules(o: PassOutcome): number | null {
  return o.kind === 'reconciled' ? (o.result.notrackOwnedRules ?? null) : null;
}

/** Whether this pass found the table calm (for autoSize's give-back), and whether it gave back. */
function calmNow(outcome: PassOutcome, view: WatchView | null, dropping: number[]): { calm: boolean; gaveBack: boolean } {
  if (outcome.kind !== 'reconciled' || !outcome.effective.autoSize) return { calm: false, gaveBack: false };
  const auto = outcome.effective.autoSize;
  const gaveBack =
    auto.limitedBy === 'giveBack' && (outcome.result.execution?.applied ?? []).some((a) => a.kind === 'sysctl' && a.key === MAX_SYSCTL && a.to < a.from);
  return { calm: !view?.filling && dropping.length === 0 && auto.demand * GIVE_BACK_BELOW < auto.max, gaveBack };
}

/** When this pass changed max, say why: ahead of a forecast full table, after drops for a full one, or giving back after a calm spell. */
function logTableSize(log: Logger, e: EffectivePolicy, applied: Action[], seen: { view: WatchView | null; calmFor: number }, dropping: NetnsCensusRow[]): void {
  const view = seen.view;
  const changed = applied.find((a) => a.kind === 'sysctl' && a.key === MAX_SYSCTL);
  if (!changed || changed.kind !== 'sysctl' || !e.autoSize) return;
  if (changed.to < changed.from) {
    if (e.autoSize.limitedBy === 'giveBack')
      log.info(
        { from: changed.from, to: changed.to, calmForSeconds: Math.round(seen.calmFor), demand: e.autoSize.demand },
        'giving back nf_conntrack_max after a calm spell',
      );
    return;
  }
  const grew = changed;
  const ns = (r: { key: number; inode: number | null; pid: number; podUid: string | null }) => ({ key: r.key, inode: r.inode, pid: r.pid, podUid: r.podUid });
  if (dropping.length) {
    log.warn(
      { from: grew.from, to: grew.to, namespaces: dropping.map(ns) },
      'growing nf_conntrack_max: a namespace is dropping new connections for a full table',
    );
  } else if (e.autoSize.demandFrom === 'forecast' && view?.focus?.forecast) {
    const { ratePerSecond, secondsToFull, level } = view.focus.forecast;
    log.info(
      {
        from: grew.from,
        to: grew.to,
        forecast: { ratePerSecond: Math.round(ratePerSecond), secondsToFull, entriesNow: Math.round(level), growAheadSeconds: e.growAheadSeconds },
        namespace: { ...ns(view.focus.ns), entries: view.focus.entries },
      },
      'growing nf_conntrack_max ahead of a full table',
    );
  }
}

// The node agent: on every tick (and at once when the policy or the node's
// labels change) it reads the host, computes the node's effective policy,
// reconciles, and publishes status and metrics. Level-based: each pass starts
// from what the kernel shows now, so a missed tick or a restart loses nothing.
import type { Host } from '../kernel/host.js';
import type { Logger } from '../logger.js';
import { readHostSnapshot, type HostSnapshot } from '../kernel/snapshot.js';
import { readConntrackStats } from '../kernel/stats.js';
import { readNetnsCensus } from '../kernel/netns-census.js';
import { netnsDrops, type NetnsDrops, type PodNames } from '../report/netns-status.js';
import { openTableStream } from '../kernel/table-stream.js';
import { effectivePolicy, type EffectivePolicy } from '../policy/effective.js';
import { nodeFacts } from '../policy/node-facts.js';
import type { Labels } from '../policy/select.js';
import type { BaselineStore } from '../reconcile/baseline-store.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import type { Condition } from '../report/conditions.js';
import type { AgentMetrics, ReconcileResultLabel as MetricResult } from '../report/metrics.js';
import { buildNodeStatus, type NodeStatusInputs, type PassOutcome } from '../report/node-status.js';
import type { NodeConditionType, NodeStatusDoc } from '../report/status-schema.js';
import { dropWindow, type CounterSample } from '../report/drops.js';
import { summarizeBatches, type TableSummary } from '../report/summary.js';
import { SerialTask } from '../serial-task.js';
import type { PolicySource } from './policy-source.js';
import { errorText } from '../errors.js';
import { readinessProblem } from './readiness.js';

export interface NodeAgentOptions {
  nodeName: string;
  intervalMs: number;
  /** How often the table itself is dumped for the breakdown (a big table costs seconds of CPU). */
  breakdownIntervalMs: number;
  /** How often the drop counter alone is read between passes, so a full table is reported within seconds. */
  dropProbeMs: number;
  /** Never write, whatever the policies say (npm start, --dry-run). */
  forceDryRun: boolean;
  serviceCidrs: string[];
  podCidrs: string[];
  notrackBackend: NodeStatusInputs['notrackBackend'];
}

export interface NodeAgentDeps {
  host: Host;
  logger: Logger;
  now: () => Date;
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
}

export class NodeAgent {
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly passes = new SerialTask(
    () => this.pass(),
    () => !this.stopped,
    (err) => this.deps.logger.error({ err: errorText(err) }, 'reconcile pass failed unexpectedly; the next tick retries'),
  );
  private conditions: Condition<(typeof NodeConditionType)[number]>[] = [];
  /**
   * The counters (the host's, and each namespace's drops) drops are judged
   * against. They move on only once a whole interval has passed: a pass
   * triggered right after another (the kernel's "table full" line, the drop
   * probe) judges over the same window, instead of an empty 50 ms one that
   * would clear a full table's signal at once.
   */
  private dropBaseline: { counters: CounterSample | null; netns: NetnsDrops | null; atMs: number } | null = null;
  /** The drop counter at the last pass, for the probe between passes. */
  private lastSeenDrop: number | undefined;
  private summary: TableSummary | null = null;
  private summaryAt = 0;
  private tableSource: NodeStatusInputs['tableSource'] = 'none';
  private lastPassEnd = 0;
  private lastWouldChange = '';
  private passesDone = 0;
  private lastPassError: string | null = null;
  lastStatus: NodeStatusDoc | null = null;

  constructor(
    private readonly opts: NodeAgentOptions,
    private readonly deps: NodeAgentDeps,
  ) {}

  start(): void {
    this.lastPassEnd = this.deps.now().getTime(); // a first pass that hangs counts as late too
    this.deps.policies.onChange(() => this.trigger());
    this.trigger();
    this.timer = setInterval(() => this.trigger(), this.opts.intervalMs);
    this.probeTimer = setInterval(() => void this.probeDrops(), this.opts.dropProbeMs);
  }

  /** Between passes: a rising drop counter (a full table or an insertion race) is reported at once. */
  private async probeDrops(): Promise<void> {
    const before = this.lastSeenDrop;
    if (this.passes.busy || before === undefined) return;
    const { host } = this.deps;
    const stats = await readConntrackStats(host).catch(() => null);
    const drops = stats?.counters?.drop;
    if (drops !== undefined && drops > before) this.trigger();
  }

  /** Run a pass now, or right after the one running. */
  trigger(): void {
    this.passes.trigger();
  }

  /** Finish the pass in flight, then stop; nothing is half-written. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    await this.passes.idle();
  }

  /** A pass must finish within three intervals, or the loop is stuck. */
  liveProblem(): string | null {
    const late = this.deps.now().getTime() - this.lastPassEnd;
    return late > 3 * this.opts.intervalMs + 60_000 ? `no reconcile pass finished for ${Math.round(late / 1000)}s` : null;
  }

  /** See readiness.ts for what ready means. */
  readyProblem(): string | null {
    return readinessProblem({ passesDone: this.passesDone, policiesKnown: this.deps.policies.ready?.() !== false, lastPassError: this.lastPassError });
  }

  /** One pass; never throws (a failed pass is reported and retried on the next tick). */
  async pass(): Promise<PassOutcome> {
    const started = this.deps.now();
    const log = this.deps.logger;
    let outcome: PassOutcome;
    let snapshot: HostSnapshot | null = null;
    const policyInput = this.deps.policies.current();
    try {
      snapshot = await readHostSnapshot(this.deps.host);
      outcome = await this.reconcile(snapshot, policyInput.policies);
    } catch (err) {
      outcome = { kind: 'error', message: errorText(err) };
      log.error({ err: outcome.message }, 'reconcile pass failed');
    }
    const seconds = (this.deps.now().getTime() - started.getTime()) / 1000;
    this.deps.metrics.observeReconcile(metricResult(outcome), seconds, ownedRules(outcome), this.deps.now().getTime() / 1000);
    if (snapshot) {
      await this.report(snapshot, outcome, policyInput.error).catch((err: unknown) =>
        log.error({ err: errorText(err) }, 'building or publishing the status failed'),
      );
    }
    this.passesDone++;
    this.lastPassError = outcome.kind === 'error' ? outcome.message : null;
    this.lastPassEnd = this.deps.now().getTime();
    return outcome;
  }

  private async reconcile(snapshot: HostSnapshot, policies: ReturnType<PolicySource['current']>['policies']): Promise<PassOutcome> {
    const log = this.deps.logger;
    const effective = effectivePolicy(policies, this.deps.nodeLabels(), nodeFacts(snapshot, this.opts));
    const generations = Object.fromEntries(
      policies.filter((p) => effective.selected.includes(p.metadata.name)).map((p) => [p.metadata.name, p.metadata.generation ?? 1]),
    );
    if (effective.selected.length === 0) return this.noPolicy();
    logProblems(log, effective);
    const dryRun = this.opts.forceDryRun || effective.mode === 'DryRun';
    const result = dryRun
      ? await this.deps.reconciler.reconcile(effective.desired, 'DryRun')
      : await this.deps.reconciler.reconcile(effective.enforced, 'Enforce');
    const policyLog = log.child({ policy: effective.selected.join(',') });
    if (result.execution && !result.execution.ok) policyLog.error({ failed: result.execution.failed }, 'applying the policy failed; rolled back');
    else if (result.execution) policyLog.info({ applied: result.execution.applied.length }, 'policy applied');
    else if (dryRun) this.logWouldChange(policyLog, result.plan.actions.map((a) => a.key), result.notApplicable.map((n) => ({ key: n.key, reason: n.reason })));
    return { kind: 'reconciled', effective, result, generations };
  }

  /** DryRun: say what would change when that changes, not on every pass. */
  private logWouldChange(log: Logger, keys: string[], cannotChangeHere: Array<{ key: string; reason: string }>): void {
    const text = JSON.stringify([keys, cannotChangeHere]);
    if (text === this.lastWouldChange) return;
    this.lastWouldChange = text;
    const msg = keys.length ? 'DryRun: changes not made' : cannotChangeHere.length ? 'DryRun: nothing that differs can be changed here' : 'DryRun: the node matches the policy';
    log.info({ wouldChange: keys, ...(cannotChangeHere.length ? { cannotChangeHere } : {}) }, msg);
  }

  /** No policy selects the node: put back what we changed (unless told never to write). */
  private async noPolicy(): Promise<PassOutcome> {
    const baseline = await this.deps.baselineStore.load();
    const ours = Object.keys(baseline.values).length > 0 || baseline.notrackOwned;
    if (!ours) return { kind: 'no-policy' };
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

  private async report(snapshot: HostSnapshot, outcome: PassOutcome, policyError: string | undefined): Promise<void> {
    const now = this.deps.now();
    const counters = snapshot.stats.counters;
    const sample = counters ? { atMs: now.getTime(), counters } : null;
    const baseline = this.dropBaseline;
    const window = sample && baseline?.counters ? dropWindow(baseline.counters, sample) : null;
    this.lastSeenDrop = counters?.drop;
    await this.refreshSummary(snapshot, now);
    // Every namespace's own count and drops: a pod's full table never shows in the host's.
    const census = snapshot.moduleLoaded ? await readNetnsCensus(this.deps.host, snapshot.netns) : null;
    const { status, conditions } = buildNodeStatus({
      nodeName: this.opts.nodeName,
      now,
      snapshot,
      summary: this.summary,
      tableSource: this.tableSource,
      notrackBackend: this.opts.notrackBackend,
      outcome,
      baseline: await this.deps.baselineStore.load(),
      drops: { window, kernelLoggedFull: this.deps.takeKernelTableFull?.() ?? false },
      ...(policyError ? { policyError } : {}),
      ...(census ? { namespaces: { census, previousDrops: baseline?.netns ?? null, podNames: this.deps.podNames } } : {}),
      previousConditions: this.conditions,
    });
    if (!baseline || now.getTime() - baseline.atMs >= this.opts.intervalMs) {
      this.dropBaseline = { counters: sample, netns: census ? netnsDrops(census) : null, atMs: now.getTime() };
    }
    this.conditions = conditions;
    const previous = this.lastStatus;
    this.lastStatus = status;
    this.deps.metrics.observeTable({ count: snapshot.table.count, max: snapshot.table.max, buckets: snapshot.table.buckets, counters: snapshot.stats.counters });
    this.deps.metrics.observeNamespaces(status.namespaces ?? null);
    this.deps.metrics.observeDrift(outcome.kind === 'reconciled' ? outcome.result.drift.map((d) => d.key) : []);
    try {
      await this.deps.publish(status, outcome, previous);
    } catch (err) {
      this.deps.logger.warn({ err: errorText(err) }, 'publishing the status failed; next pass retries');
    }
  }

  private async refreshSummary(snapshot: HostSnapshot, now: Date): Promise<void> {
    if (!snapshot.moduleLoaded || (this.summary && now.getTime() - this.summaryAt < this.opts.breakdownIntervalMs)) return;
    this.summaryAt = now.getTime();
    try {
      const stream = await openTableStream(this.deps.host);
      if (stream.source === null) {
        this.tableSource = 'none';
        return;
      }
      this.summary = await summarizeBatches(stream.batches, { sysctls: snapshot.sysctls });
      this.tableSource = stream.source === 'file' ? 'procfs' : 'conntrack-tool';
    } catch (err) {
      this.deps.logger.warn({ err: errorText(err) }, 'reading the table for the breakdown failed');
    }
  }
}

function logProblems(log: Logger, e: EffectivePolicy): void {
  for (const c of e.conflicts) log.warn({ policy: c.policies.join(','), field: c.field, values: c.values }, 'policies conflict at equal priority: field not applied');
  for (const r of e.refused) log.warn({ policy: r.policy, field: r.path, reason: r.message }, 'guardrail refused a field: not applied');
}

function metricResult(o: PassOutcome): MetricResult {
  switch (o.kind) {
    case 'reconciled':
      if (o.result.execution && !o.result.execution.ok) return 'failed';
      if (o.result.mode === 'DryRun') return 'dry_run';
      return o.result.execution ? 'applied' : o.result.inSync ? 'in_sync' : 'not_applicable';
    case 'restored':
      return o.result.ok ? 'restored' : 'failed';
    case 'no-policy':
      return 'in_sync';
    case 'error':
      return 'failed';
  }
}

function ownedRules(o: PassOutcome): number | null {
  return o.kind === 'reconciled' ? o.result.notrackOwnedRules ?? null : null;
}

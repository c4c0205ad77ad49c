// Every Prometheus metric the agent and the controller expose, declared here
// and nowhere else; one registry per instance, no global one. The shape is
// node_exporter's: kernel totals are counters named after the kernel's own
// column (snake_case, _total), values that could not be read are absent (not
// 0), and no label says which node or pod: the ServiceMonitor/PodMonitor adds
// that from the scrape target (relabeling), where Prometheus users expect it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ConntrackCounters } from '../kernel/stats.js';
import type { PressureThresholds } from '../policy/normalize.js';
import type { NetnsRowDoc, NetnsSummaryDoc, TableStatusDoc } from '../api/v1alpha1/status.js';

/** The `result` label of the reconciles counter: a pass's outcome in one word (the pass itself is reconcile/reconciler.ts's ReconcileResult). */
export type ReconcileResultLabel = 'applied' | 'in_sync' | 'not_applicable' | 'dry_run' | 'failed' | 'restored';

/**
 * The kernel's conntrack statistics (the stat file's columns, or conntrack -S's
 * names), by our counter name, with the metric's snake_case name and help.
 * Columns a kernel does not have are not exported.
 */
const KERNEL_STATS: ReadonlyArray<{ key: string; metric: string; help: string }> = [
  { key: 'found', metric: 'found', help: 'Lookups that found an entry.' },
  { key: 'invalid', metric: 'invalid', help: 'Packets that could not be tracked (state INVALID).' },
  { key: 'ignore', metric: 'ignore', help: 'Packets that already had an entry attached, or were not to be tracked.' },
  { key: 'insert', metric: 'insert', help: 'Entries inserted into the table.' },
  {
    key: 'insertFailed',
    metric: 'insert_failed',
    help: 'Entries that could not be inserted: an insertion race the kernel could not resolve (drop rises with it).',
  },
  {
    key: 'drop',
    metric: 'drop',
    help: 'Packets of new flows dropped: the table was full (drop rises alone) or an insertion race was lost (insert_failed rises with it).',
  },
  { key: 'earlyDrop', metric: 'early_drop', help: 'Unreplied entries evicted to make room in a full table.' },
  { key: 'icmpError', metric: 'icmp_error', help: 'ICMP errors that matched no entry.' },
  { key: 'searchRestart', metric: 'search_restart', help: 'Lookups restarted because the table was resized or an entry moved.' },
  { key: 'clashResolve', metric: 'clash_resolve', help: 'Insertion races the kernel resolved without a drop (information).' },
  { key: 'chainTooLong', metric: 'chain_too_long', help: 'Inserts refused because a hash chain was too long.' },
  { key: 'new', metric: 'new', help: 'Entries created.' },
  { key: 'delete', metric: 'delete', help: 'Entries deleted.' },
  { key: 'expectNew', metric: 'expect_new', help: 'Expectations added.' },
  { key: 'expectCreate', metric: 'expect_create', help: 'Expectations created.' },
  { key: 'expectDelete', metric: 'expect_delete', help: 'Expectations deleted.' },
];

export interface TableSample {
  count: number | null;
  max: number | null;
  buckets: number | null;
  counters: ConntrackCounters | null;
}

export interface MetricsOptions {
  /** The release, for conntrack_operator_build_info. */
  version: string;
}

/** A registry with the _build_info gauge; the command adds the process_* and nodejs_* metrics (they sample the process, which a test's registry must not). */
function registryFor(o: MetricsOptions): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'conntrack_operator_build_info',
    help: 'Always 1; the label says which release runs here (nodejs_version_info has the runtime).',
    labelNames: ['version'],
    registers: [registry],
  }).set({ version: o.version }, 1);
  return registry;
}

/** An unlabelled gauge that is absent until set: an unread value must not read as 0. */
function gauge(registry: Registry, name: string, help: string): Gauge {
  const g = new Gauge({ name, help, registers: [registry] });
  g.remove();
  return g;
}

const setOrRemove = (g: Gauge, v: number | null | undefined) => (v === null || v === undefined ? g.remove() : g.set(v));

/**
 * The labels of a namespace's series. Not `pod` and `namespace`: the scrape
 * config sets those to the agent's own pod (prometheus-operator does), and ours
 * would come out as exported_pod. Unknown values are empty, i.e. absent.
 */
const NETNS_LABELS = ['netns', 'pod_uid', 'pod_namespace', 'pod_name'] as const;
// A namespace whose inode could not be read is labelled by a process in it.
const netnsLabels = (r: NetnsRowDoc) => ({
  netns: String(r.inode ?? `pid:${r.pid}`),
  pod_uid: r.podUid ?? '',
  pod_namespace: r.podNamespace ?? '',
  pod_name: r.podName ?? '',
});

export class AgentMetrics {
  readonly registry: Registry;
  private readonly entries: Gauge;
  private readonly max: Gauge;
  private readonly buckets: Gauge;
  private readonly usage: Gauge;
  /** The kernel's running totals, mirrored: a counter whose value is the kernel's. */
  private readonly stats = new Map<string, Counter>();
  private readonly drift: Gauge;
  private readonly planPending: Gauge;
  private readonly reconciles: Counter;
  private readonly reconcileDuration: Histogram;
  private readonly notrackRules: Gauge;
  private readonly notrackWithheld: Gauge;
  private readonly lastApply: Gauge;
  private readonly nodeEntries: Gauge;
  private readonly namespaces: Gauge;
  private readonly netnsEntries: Gauge;
  private readonly netnsDrops: Counter;
  private readonly fullestEntries: Gauge;
  private readonly fullestUsage: Gauge;
  private readonly growth: Gauge;
  private readonly secondsToFull: Gauge;
  private readonly warningRatio: Gauge;
  private readonly criticalRatio: Gauge;
  private readonly pressureResponse: Gauge;

  constructor(options: MetricsOptions) {
    this.registry = registryFor(options);
    const registers = [this.registry];
    this.entries = gauge(this.registry, 'conntrack_operator_table_entries', 'Entries in the conntrack table (nf_conntrack_count).');
    this.max = gauge(this.registry, 'conntrack_operator_table_max', 'Table limit (nf_conntrack_max).');
    this.buckets = gauge(this.registry, 'conntrack_operator_table_buckets', 'Hash buckets (nf_conntrack_buckets).');
    this.usage = gauge(this.registry, 'conntrack_operator_table_usage_ratio', 'Entries / max, 0 to 1; new flows are dropped at 1.');
    for (const s of KERNEL_STATS) {
      const c = new Counter({ name: `conntrack_operator_stat_${s.metric}_total`, help: `${s.help} Kernel total summed over CPUs, since boot.`, registers });
      c.remove();
      this.stats.set(s.key, c);
    }
    this.drift = new Gauge({
      name: 'conntrack_operator_drift',
      help: '1 while a key differs from the value the agent applied (Enforce), by key: another writer changed it.',
      labelNames: ['key'],
      registers,
    });
    // DryRun's plan is not drift: nothing was applied, so nothing moved away from it.
    this.planPending = new Gauge({
      name: 'conntrack_operator_plan_pending',
      help: '1 while a DryRun policy (or --dry-run) would change a key, by key; nothing is written.',
      labelNames: ['key'],
      registers,
    });
    this.reconciles = new Counter({ name: 'conntrack_operator_reconciles_total', help: 'Reconcile passes by result.', labelNames: ['result'], registers });
    this.reconcileDuration = new Histogram({
      name: 'conntrack_operator_reconcile_duration_seconds',
      help: 'Time of one reconcile pass.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.notrackRules = gauge(this.registry, 'conntrack_operator_notrack_rules', 'NOTRACK rules owned by the agent.');
    this.notrackWithheld = gauge(
      this.registry,
      'conntrack_operator_notrack_withheld_rules',
      "NOTRACK rules of the policy not applied: a NAT rule on the node rewrites packets they would untrack, or the node's NAT rules cannot be read.",
    );
    this.lastApply = gauge(
      this.registry,
      'conntrack_operator_last_successful_apply_timestamp_seconds',
      'Unix time of the last reconcile that left the node matching the policy; absent until one did.',
    );
    this.nodeEntries = gauge(
      this.registry,
      'conntrack_operator_node_entries',
      "Entries over every network namespace of the node (each one's own count summed).",
    );
    this.namespaces = gauge(this.registry, 'conntrack_operator_network_namespaces', 'Network namespaces with a process on the node.');
    // Bounded cardinality: only the status's top namespaces (at most 5), replaced every pass.
    this.netnsEntries = new Gauge({
      name: 'conntrack_operator_netns_entries',
      help: 'Entries of the network namespaces holding the most (at most 5 series); each is checked against table_max on its own.',
      labelNames: NETNS_LABELS,
      registers,
    });
    this.netnsDrops = new Counter({
      name: 'conntrack_operator_netns_stat_drop_total',
      help: "The kernel's drop counter (since the namespace was created) of the network namespaces other than the host's that drop packets for a full table now (at most 5 series, the most dropping; a namespace that stops dropping leaves): rate() > 0 is a pod's table full.",
      labelNames: NETNS_LABELS,
      registers,
    });
    this.fullestEntries = gauge(
      this.registry,
      'conntrack_operator_table_fullest_entries',
      "Entries of the fullest network namespace, the host's included: every namespace's count is checked against table_max, so this one drops first.",
    );
    this.fullestUsage = gauge(
      this.registry,
      'conntrack_operator_table_fullest_usage_ratio',
      'table_fullest_entries / table_max, 0 to 1; new flows are dropped there at 1.',
    );
    this.growth = gauge(
      this.registry,
      'conntrack_operator_table_growth_per_second',
      "Entries per second the namespace forecast to be full soonest (else the fullest) grows by, from the agent's watch; absent before it has a forecast.",
    );
    this.secondsToFull = gauge(
      this.registry,
      'conntrack_operator_table_seconds_to_full',
      "Seconds until that namespace reaches table_max at that rate; absent when the agent's forecast says it will not (not growing, or a trend too short to trust that far).",
    );
    this.warningRatio = gauge(
      this.registry,
      'conntrack_operator_pressure_warning_ratio',
      "The warning usage threshold in effect on this node (its policy's pressure.warningPercent / 100, or the default): alerts compare usage with it.",
    );
    this.criticalRatio = gauge(
      this.registry,
      'conntrack_operator_pressure_critical_ratio',
      "The critical usage threshold in effect on this node (its policy's pressure.criticalPercent / 100, or the default): alerts compare usage with it.",
    );
    this.pressureResponse = gauge(
      this.registry,
      'conntrack_operator_pressure_response_active',
      "1 while the policy's pressure response has shorter timeouts in force (or, in DryRun, would have), else 0; absent before the first pass.",
    );
  }

  observeTable(s: TableSample): void {
    setOrRemove(this.entries, s.count);
    setOrRemove(this.max, s.max);
    setOrRemove(this.buckets, s.buckets);
    setOrRemove(this.usage, s.count !== null && s.max ? s.count / s.max : null);
    for (const [key, counter] of this.stats) {
      const v = s.counters?.[key];
      counter.reset();
      if (v === undefined) counter.remove();
      else counter.inc(v);
    }
  }

  /** Node-wide figures, the top namespaces and the ones dropping for a full table now; null (no census) removes them. */
  observeNamespaces(s: NetnsSummaryDoc | null): void {
    setOrRemove(this.nodeEntries, s?.entries);
    setOrRemove(this.namespaces, s?.count);
    this.netnsEntries.reset();
    for (const r of s?.top ?? []) if (r.entries !== undefined) this.netnsEntries.set(netnsLabels(r), r.entries);
    this.netnsDrops.reset();
    for (const r of s?.full ?? []) if (r.drop !== undefined) this.netnsDrops.inc(netnsLabels(r), r.drop);
  }

  /** The fullest namespace and the forecast, from the status's table (absent: removed), and the pressure thresholds in effect. */
  observeFill(t: TableStatusDoc | undefined, pressure: PressureThresholds): void {
    setOrRemove(this.fullestEntries, t?.fullest?.entries);
    setOrRemove(this.fullestUsage, t?.fullest && t.max ? t.fullest.entries / t.max : null);
    setOrRemove(this.growth, t?.growthPerSecond);
    setOrRemove(this.secondsToFull, t?.secondsToFull);
    this.warningRatio.set(pressure.warningPercent / 100);
    this.criticalRatio.set(pressure.criticalPercent / 100);
  }

  /** Replace the drift set: keys no longer drifting disappear. */
  observeDrift(keys: string[]): void {
    this.drift.reset();
    for (const key of keys) this.drift.set({ key }, 1);
  }

  observePressureResponse(active: boolean): void {
    this.pressureResponse.set(active ? 1 : 0);
  }

  /** Replace the set of keys DryRun would change. */
  observePlanPending(keys: string[]): void {
    this.planPending.reset();
    for (const key of keys) this.planPending.set({ key }, 1);
  }

  /** How many of the policy's NOTRACK rules are withheld; null (the pass did not check) leaves the last value. */
  observeNotrackWithheld(count: number | null): void {
    if (count !== null) this.notrackWithheld.set(count);
  }

  observeReconcile(result: ReconcileResultLabel, seconds: number, notrackRules: number | null, nowSeconds: number): void {
    this.reconciles.inc({ result });
    this.reconcileDuration.observe(seconds);
    if (notrackRules !== null) this.notrackRules.set(notrackRules);
    if (result === 'applied' || result === 'in_sync') this.lastApply.set(nowSeconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The controller's few metrics, in its own registry (one per process). */
export class ControllerMetrics {
  readonly registry: Registry;
  private readonly leader: Gauge;
  private readonly passDuration: Histogram;

  constructor(options: MetricsOptions) {
    this.registry = registryFor(options);
    const registers = [this.registry];
    this.leader = new Gauge({ name: 'conntrack_operator_controller_leader', help: '1 while this replica holds the leader Lease.', registers });
    this.passDuration = new Histogram({
      name: 'conntrack_operator_controller_pass_duration_seconds',
      help: "Time to reconcile one policy: aggregate its nodes' statuses into its status and write it.",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  setLeader(leading: boolean): void {
    this.leader.set(leading ? 1 : 0);
  }

  observePass(seconds: number): void {
    this.passDuration.observe(seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

// Every Prometheus metric the agent exposes, in one registry, declared here
// and nowhere else. A new AgentMetrics per agent: no global registry.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NetnsSummaryDoc } from './status-schema.js';

export type ReconcileResult = 'applied' | 'in_sync' | 'not_applicable' | 'dry_run' | 'failed' | 'restored';

export const KERNEL_COUNTERS = ['drop', 'earlyDrop', 'insertFailed', 'invalid', 'searchRestart'] as const;
export type KernelCounterName = (typeof KERNEL_COUNTERS)[number];

export interface TableSample {
  count: number | null;
  max: number | null;
  buckets: number | null;
  counters: Partial<Record<KernelCounterName, number>> | null;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly entries: Gauge;
  private readonly max: Gauge;
  private readonly buckets: Gauge;
  private readonly usage: Gauge;
  private readonly kernelCounter: Gauge;
  private readonly drift: Gauge;
  private readonly reconciles: Counter;
  private readonly reconcileDuration: Histogram;
  private readonly notrackRules: Gauge;
  private readonly lastApply: Gauge;
  private readonly nodeEntries: Gauge;
  private readonly namespaces: Gauge;
  private readonly netnsEntries: Gauge;

  constructor(private readonly node: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node });
    // Labelled by node explicitly: an unlabelled gauge exports 0 when it has no value, and an
    // unreadable count must be absent, not zero.
    const labelNames = ['node'];
    this.entries = new Gauge({ name: 'conntrack_operator_table_entries', help: 'Entries in the conntrack table (nf_conntrack_count).', labelNames, registers });
    this.max = new Gauge({ name: 'conntrack_operator_table_max', help: 'Table limit (nf_conntrack_max).', labelNames, registers });
    this.buckets = new Gauge({ name: 'conntrack_operator_table_buckets', help: 'Hash buckets (nf_conntrack_buckets).', labelNames, registers });
    this.usage = new Gauge({ name: 'conntrack_operator_table_usage_ratio', help: 'Entries / max, 0 to 1; new flows are dropped at 1.', labelNames, registers });
    this.kernelCounter = new Gauge({
      name: 'conntrack_operator_kernel_counter',
      help: 'Kernel conntrack counters summed over CPUs, cumulative since boot (use rate()). drop rising means the table is full now.',
      labelNames: ['counter'],
      registers,
    });
    this.drift = new Gauge({
      name: 'conntrack_operator_drift',
      help: '1 while a key differs from the policy, by key.',
      labelNames: ['key'],
      registers,
    });
    this.reconciles = new Counter({
      name: 'conntrack_operator_reconciles_total',
      help: 'Reconcile passes by result.',
      labelNames: ['result'],
      registers,
    });
    this.reconcileDuration = new Histogram({
      name: 'conntrack_operator_reconcile_duration_seconds',
      help: 'Time of one reconcile pass.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.notrackRules = new Gauge({ name: 'conntrack_operator_notrack_rules', help: 'NOTRACK rules owned by the agent.', registers });
    this.lastApply = new Gauge({
      name: 'conntrack_operator_last_successful_apply_timestamp_seconds',
      help: 'Unix time of the last reconcile that left the node matching the policy.',
      registers,
    });
    this.nodeEntries = new Gauge({ name: 'conntrack_operator_node_entries', help: 'Entries over every network namespace of the node (each one\'s own count summed).', labelNames, registers });
    this.namespaces = new Gauge({ name: 'conntrack_operator_network_namespaces', help: 'Network namespaces with a process on the node.', labelNames, registers });
    // Bounded cardinality: only the status's top namespaces (at most 5), replaced every pass.
    this.netnsEntries = new Gauge({
      name: 'conntrack_operator_netns_entries',
      help: 'Entries of the network namespaces holding the most (at most 5 series); each is checked against table_max on its own.',
      labelNames: ['netns', 'pod_uid'],
      registers,
    });
  }

  observeTable(s: TableSample): void {
    const set = (g: Gauge, v: number | null) => (v === null ? g.remove({ node: this.node }) : g.set({ node: this.node }, v));
    set(this.entries, s.count);
    set(this.max, s.max);
    set(this.buckets, s.buckets);
    set(this.usage, s.count !== null && s.max ? s.count / s.max : null);
    for (const name of KERNEL_COUNTERS) {
      const v = s.counters?.[name];
      if (v === undefined) this.kernelCounter.remove({ counter: name });
      else this.kernelCounter.set({ counter: name }, v);
    }
  }

  /** Node-wide figures and the top namespaces; null (no census) removes them. */
  observeNamespaces(s: NetnsSummaryDoc | null): void {
    const set = (g: Gauge, v: number | undefined) => (v === undefined ? g.remove({ node: this.node }) : g.set({ node: this.node }, v));
    set(this.nodeEntries, s?.entries);
    set(this.namespaces, s?.count);
    this.netnsEntries.reset();
    for (const r of s?.top ?? []) if (r.entries !== undefined) this.netnsEntries.set({ netns: String(r.inode), pod_uid: r.podUid ?? '' }, r.entries);
  }

  /** Replace the drift set: keys no longer drifting disappear. */
  observeDrift(keys: string[]): void {
    this.drift.reset();
    for (const key of keys) this.drift.set({ key }, 1);
  }

  observeReconcile(result: ReconcileResult, seconds: number, notrackRules: number | null, nowSeconds: number): void {
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
  readonly registry = new Registry();
  private readonly leader: Gauge;
  private readonly passDuration: Histogram;

  constructor(identity: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pod: identity });
    this.leader = new Gauge({ name: 'conntrack_operator_controller_leader', help: '1 while this replica holds the leader Lease.', registers });
    this.passDuration = new Histogram({
      name: 'conntrack_operator_controller_pass_duration_seconds',
      help: 'Time to aggregate every node status into the policies\' status.',
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

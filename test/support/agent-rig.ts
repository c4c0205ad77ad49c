// The node agent on a copied kernel tree (FixtureKernel) with the real
// reconciler, status builder and metrics, a policy source and publisher in
// memory, and a fake clock: for the agent's tests and for the alert tests that
// feed what it exports to promtool.
import { Writable } from 'node:stream';
import { NodeAgent, type NodeAgentOptions } from '../../src/agent/node-agent.js';
import { WATCH_DEFAULTS } from '../../src/agent/table-watch.js';
import type { PolicySnapshot, PolicySource } from '../../src/agent/policy-source.js';
import { readObservedState } from '../../src/kernel/observed-state.js';
import { createLogger } from '../../src/logger.js';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { Labels } from '../../src/policy/select.js';
import { MemoryBaselineStore } from '../../src/reconcile/baseline-store.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { AgentMetrics } from '../../src/metrics/registries.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { fakeHost } from './fake-host.js';
import type { FixtureTree } from './fixture-tree.js';

export const T0 = Date.parse('2026-11-22T04:00:00Z');
export const INTERVAL_MS = 60_000;
export const TIME_WAIT = 'nf_conntrack_tcp_timeout_time_wait';
export const ESTABLISHED = 'nf_conntrack_tcp_timeout_established';

/** A policy for nodes labelled pool=web with these TCP timeouts (or another spec besides the selector and mode). */
export function policy(name: string, mode: 'Enforce' | 'DryRun', tcp: Record<string, number>, other?: object) {
  const spec = { nodeSelector: { matchLabels: { pool: 'web' } }, mode, ...(other ?? { timeouts: { tcp } }) };
  const r = validatePolicyObjects(
    [{ object: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name, generation: 1 }, spec }, document: 1 }],
    'test',
  );
  if ('errors' in r) throw new Error(JSON.stringify(r.errors));
  return r.policies[0]!;
}

/** One policy, TIME_WAIT 120 s (the kernel's) -> 30 s, or the spec given. */
function webPolicy(mode: 'Enforce' | 'DryRun', spec?: object) {
  return [policy('web', mode, { timeWaitSeconds: 30 }, spec)];
}

/** A policy source in memory; `known` false is an API server that has not answered and no stored copy. */
export class MemoryPolicySource implements PolicySource {
  known = true;
  constructor(public snapshot: PolicySnapshot) {}
  current(): PolicySnapshot {
    return this.snapshot;
  }
  onChange(): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  ready(): boolean {
    return this.known;
  }
}

export interface RigOptions {
  labels: Labels;
  mode?: 'Enforce' | 'DryRun';
  known?: boolean;
  forceDryRun?: boolean;
  baselineStore?: MemoryBaselineStore;
  /** The web policy's spec besides its selector and mode; TIME_WAIT 30 s when not given. */
  spec?: object;
  /** Other policies than webPolicy(mode). */
  policies?: ReturnType<typeof webPolicy>;
}

/** An agent on `tree`; every status it publishes is kept, and `nextPublish` waits for the next one. */
export function rig(tree: FixtureTree, o: RigOptions) {
  const clock = { ms: T0 };
  const source = new MemoryPolicySource({ policies: o.policies ?? webPolicy(o.mode ?? 'Enforce', o.spec) });
  source.known = o.known ?? true;
  const baselineStore = o.baselineStore ?? new MemoryBaselineStore();
  const host = fakeHost(tree.kernel, tree.paths, { clock: () => clock.ms, isRoot: true });
  const reconciler = new Reconciler({ observe: () => readObservedState(host), host, backend: null, baselineStore });
  const published: NodeStatusDoc[] = [];
  const logged: LogLine[] = [];
  let waiting: ((s: NodeStatusDoc) => void) | null = null;
  const options: NodeAgentOptions = {
    nodeName: 'node-a',
    intervalMs: INTERVAL_MS,
    breakdownIntervalMs: 5 * 60_000,
    watch: WATCH_DEFAULTS,
    forceDryRun: o.forceDryRun ?? false,
    serviceCidrs: [],
    podCidrs: [],
    notrackBackend: 'none',
  };
  const metrics = new AgentMetrics({ version: 'test' });
  const agent = new NodeAgent(options, {
    host,
    logger: createLogger('info', 'node-a', new Writable({ write: (line: Buffer, _enc, done) => (logged.push(JSON.parse(String(line)) as LogLine), done()) })),
    policies: source,
    nodeLabels: () => o.labels,
    reconciler,
    baselineStore,
    metrics,
    publish: async (status) => {
      published.push(status);
      waiting?.(status);
      waiting = null;
    },
  });
  const nextPublish = () => new Promise<NodeStatusDoc>((resolve) => (waiting = resolve));
  return { agent, clock, source, metrics, baselineStore, published, nextPublish, logged };
}

/** One line the agent logged (pino JSON). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

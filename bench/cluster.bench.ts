// API load of the in-cluster agent and controller: `node --import tsx bench/cluster.bench.ts [agents]`.
// 1. A simulated day of one agent (fake clock, a pass every 30 s): the real
//    NodeAgent, reconciler and reporter over a copied kernel tree and a
//    counting API; a steady table, one policy edit (hour 6), one outside
//    change (hour 12). Prints writes per hour.
// 2. N agents (default 1000) against the test API server: their policy/node
//    watches and first status writes; then the controller aggregates the N
//    statuses. Prints watches per agent, requests per agent, the aggregation time.
// Targets: <= 15 writes per node per hour steady; 5,000 nodes < 25 writes/s.
import { NodeAgent } from '../src/agent/node-agent.js';
import { WATCH_DEFAULTS } from '../src/agent/table-watch.js';
import type { PolicySnapshot, PolicySource } from '../src/agent/policy-source.js';
import { PolicyController } from '../src/controller/policy-controller.js';
import { readObservedState } from '../src/kernel/observed-state.js';
import { ClusterApi, loadKubeConfig, type CustomObject } from '../src/kube/cluster-api.js';
import { ClusterPolicySource } from '../src/kube/cluster-policy-source.js';
import { buildCrds } from '../src/api/v1alpha1/crds.js';
import { clusterReporter, type ReporterApi } from '../src/kube/node-reporter.js';
import { realTiming } from '../src/kube/reflector.js';
import { createLogger } from '../src/logger.js';
import { validatePolicyObjects } from '../src/policy/load.js';
import { MemoryBaselineStore } from '../src/reconcile/baseline-store.js';
import { Reconciler } from '../src/reconcile/reconciler.js';
import { AgentMetrics } from '../src/metrics/registries.js';
import type { NodeStatusDoc } from '../src/api/v1alpha1/status.js';
import { fakeHost } from '../test/support/fake-host.js';
import { loadFixtureTree } from '../test/support/fixture-tree.js';
import { createCrd, startApi } from '../test/support/kube/harness.js';

const print = (name: string, value: string | number) => process.stdout.write(`${name}: ${value}\n`);
const HOUR = 3_600_000;
const PASS_MS = 30_000;
const silent = createLogger('silent', 'bench');

function policyDoc(generation: number, timeWaitSeconds: number) {
  const r = validatePolicyObjects(
    [
      {
        object: {
          apiVersion: 'conntrack.io/v1alpha1',
          kind: 'ConntrackPolicy',
          metadata: { name: 'web', generation },
          spec: { mode: 'Enforce', timeouts: { tcp: { establishedSeconds: 600, timeWaitSeconds } } },
        },
        document: 1,
      },
    ],
    'bench',
  );
  if ('errors' in r) throw new Error(JSON.stringify(r.errors));
  return r.policies;
}

/** Answers like the API server and counts every request by kind. */
class CountingApi implements ReporterApi {
  readonly counts = { getStatus: 0, createStatus: 0, writeStatus: 0, createEvent: 0, patchEvent: 0 };
  private object: CustomObject | null = null;
  async getCustom() {
    this.counts.getStatus++;
    return this.object;
  }
  async createCustom(_plural: string, body: CustomObject) {
    this.counts.createStatus++;
    this.object = { ...body, metadata: { ...body.metadata, resourceVersion: '1' } };
    return this.object;
  }
  async replaceCustomStatus(_plural: string, body: CustomObject) {
    this.counts.writeStatus++;
    this.object = body;
    return body;
  }
  async createEvent(_ns: string, body: never) {
    this.counts.createEvent++;
    return body;
  }
  async patchEvent(_ns: string, _name: string, body: never) {
    this.counts.patchEvent++;
    return body;
  }
  writes(): number {
    const c = this.counts;
    return c.createStatus + c.writeStatus + c.createEvent + c.patchEvent;
  }
}

async function simulatedDay(): Promise<void> {
  const tree = loadFixtureTree('host-6.18');
  let now = Date.parse('2026-01-01T00:00:00Z');
  const clock = () => now;
  let snapshot: PolicySnapshot = { policies: policyDoc(1, 30) };
  const policies: PolicySource = { current: () => snapshot, onChange: () => undefined, start: async () => undefined, stop: async () => undefined };
  const api = new CountingApi();
  const host = fakeHost(tree.kernel, tree.paths, { clock, isRoot: true });
  const baselineStore = new MemoryBaselineStore();
  const reconciler = new Reconciler({ observe: () => readObservedState(host), host, backend: null, baselineStore });
  const agent = new NodeAgent(
    {
      nodeName: 'n1',
      intervalMs: PASS_MS,
      breakdownIntervalMs: 5 * 60_000,
      watch: WATCH_DEFAULTS,
      forceDryRun: false,
      serviceCidrs: [],
      podCidrs: [],
      notrackBackend: 'nftables',
    },
    {
      host,
      logger: silent,
      policies,
      nodeLabels: () => ({}),
      reconciler,
      baselineStore,
      metrics: new AgentMetrics({ version: 'bench' }),
      publish: clusterReporter(api, 'n1', () => ({ name: 'n1', uid: 'uid-1' }), clock, silent),
    },
  );
  const countPath = tree.paths.sysctl('nf_conntrack_count');
  const perHour: number[] = [];
  let lastWrites = 0;
  for (let pass = 0; pass < (24 * HOUR) / PASS_MS; pass++) {
    // A steady table: the count wanders by about one percent of max.
    tree.kernel.set(countPath, `${50_000 + Math.round(Math.sin(pass / 7) * 2500)}\n`);
    if (now === Date.parse('2026-01-01T06:00:00Z')) snapshot = { policies: policyDoc(2, 45) };
    if (now === Date.parse('2026-01-01T12:00:00Z')) await tree.kernel.write(tree.paths.sysctl('nf_conntrack_tcp_timeout_established'), '7200');
    await agent.pass();
    now += PASS_MS;
    if ((now - Date.parse('2026-01-01T00:00:00Z')) % HOUR === 0) {
      perHour.push(api.writes() - lastWrites);
      lastWrites = api.writes();
    }
  }
  const steady = perHour.filter((_, h) => h !== 0 && h !== 6 && h !== 12);
  print('simulated day: API writes per hour (status + events), hour by hour', perHour.join(' '));
  print('simulated day: writes per node per hour, steady hours (max)', Math.max(...steady));
  print('simulated day: writes in the policy-edit hour / the drift hour', `${perHour[6]} / ${perHour[12]}`);
  print('simulated day: requests by kind', JSON.stringify(api.counts));
  print('5,000 nodes at the steady maximum, writes/s', ((5000 * Math.max(...steady)) / 3600).toFixed(1));
}

function status(node: string): NodeStatusDoc {
  const c = (type: 'Applied' | 'Drifted' | 'Pressure' | 'TableFull', status: 'True' | 'False', reason: string) => ({
    type,
    status,
    reason,
    message: '',
    lastTransitionTime: '2026-01-01T00:00:00Z',
    observedGeneration: 1,
  });
  return {
    nodeName: node,
    lastProbeTime: '2026-01-01T00:00:00Z',
    kernel: { release: '6.18', conntrackLoaded: true, notrackBackend: 'nftables', tableSource: 'procfs' },
    table: { count: 1000, max: 262144, buckets: 262144, usagePercent: 0.4, usage: '0%' },
    appliedPolicy: { name: 'web', policies: [{ name: 'web', generation: 1 }], mode: 'Enforce' },
    driftCount: 0,
    conditions: [c('Applied', 'True', 'Applied'), c('Drifted', 'False', 'InSync'), c('Pressure', 'False', 'Normal'), c('TableFull', 'False', 'NotDropping')],
  };
}

async function manyAgents(n: number): Promise<void> {
  const api = await startApi({ inProcess: true });
  try {
    for (const crd of buildCrds()) await createCrd(api, crd as unknown as Record<string, unknown>);
    await api.request('POST', '/apis/conntrack.io/v1alpha1/conntrackpolicies', {
      body: {
        apiVersion: 'conntrack.io/v1alpha1',
        kind: 'ConntrackPolicy',
        metadata: { name: 'web' },
        spec: { timeouts: { tcp: { establishedSeconds: 600 } } },
      },
    });
    for (let i = 0; i < n; i++)
      await api.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${i}`, labels: { role: 'web' } } } });
    const kc = loadKubeConfig(api.kubeconfig());
    const server = api.server!;
    const before = server.requests.length;
    const started = Date.now();
    const dir = await import('node:fs/promises').then((fs) => fs.mkdtemp('/tmp/ctop-cluster-bench-'));
    const agents = Array.from({ length: n }, (_, i) => {
      const cluster = new ClusterApi(kc);
      const node = `node-${i}`;
      const source = new ClusterPolicySource(cluster, node, `${dir}/${node}`, realTiming(), silent);
      const report = clusterReporter(cluster, node, () => source.nodeRef(), Date.now, silent);
      return { node, source, report };
    });
    await Promise.all(agents.map((a) => a.source.start()));
    // A status is created only once its Node is known (it is owned by the Node).
    while (agents.some((a) => !a.source.nodeRef())) await new Promise((r) => setTimeout(r, 50));
    // As the agent does, a failed publish is tried again on the next pass (here: after 200 ms).
    let retries = 0;
    const publish = async (a: (typeof agents)[number]) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await a.report(status(a.node), { kind: 'no-policy' }, null);
        } catch (err) {
          if (attempt === 5) throw err;
          retries++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };
    await Promise.all(agents.map(publish));
    // The same status again: nothing to write.
    await Promise.all(agents.map((a) => a.report(status(a.node), { kind: 'no-policy' }, status(a.node))));
    const startupMs = Date.now() - started;
    const log = server.requests.slice(before);
    const watches = log.filter((r) => r.query.includes('watch=true') || r.query.includes('watch=1')).length;
    const writes = log.filter((r) => r.method !== 'GET').length;
    print(`${n} agents: open watches per agent`, (server.openWatches() / n).toFixed(2));
    print(`${n} agents: requests per agent at start (lists, watches, status create+write)`, (log.length / n).toFixed(2));
    print(`${n} agents: writes per agent at start; a repeated identical status writes`, `${(writes / n).toFixed(2)}; 0 (throttled)`);
    print(`${n} agents: watch requests`, watches);
    print(`${n} agents: first publishes retried after a connection error (all at once against one in-process server)`, retries);
    print(`${n} agents: time to start all and write first statuses, ms`, startupMs);

    const controller = new PolicyController(new ClusterApi(kc), realTiming(), { ...silent, info() {}, warn() {}, debug() {}, error() {} });
    controller.start();
    controller.setLeading(true); // its first pass waits for its three caches to list
    while (controller.stats.passes === 0) await new Promise((r) => setTimeout(r, 50));
    print(`controller: aggregate ${n} statuses into the policy status (one pass), ms`, controller.stats.lastPassMs);
    const policy = await api.request('GET', '/apis/conntrack.io/v1alpha1/conntrackpolicies/web');
    print('controller: policy status', JSON.stringify({ selected: policy.body.status.selectedNodes, inSync: policy.body.status.inSyncNodes }));
    await controller.stop();
    await Promise.all(agents.map((a) => a.source.stop()));
    await import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true }));
  } finally {
    await api.stop();
  }
}

await simulatedDay();
await manyAgents(Number(process.argv[2] ?? '1000'));
process.exit(0);

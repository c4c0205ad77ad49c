// The policy controller against the test API server, with the chart's RBAC:
// two replicas elect one leader through a Lease, the leader aggregates node
// statuses into each policy's status (counts, Ready/Degraded/Conflict/
// Rejected), kubectl get ctpol shows it, and the other replica takes over
// when the leader stops.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector } from '../../src/controller/leader-election.js';
import { PolicyController } from '../../src/controller/policy-controller.js';
import { ClusterApi, loadKubeConfig } from '../../src/kube/cluster-api.js';
import { buildCrds } from '../../src/api/v1alpha1/crds.js';
import { realTiming } from '../../src/kube/reflector.js';
import { realQueueClock } from '../../src/work-queue.js';
import { componentObject, renderChart } from '../packaging/render.js';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';
import { runKubectl } from '../support/kube/tools.js';
import { until } from './support.js';

const NS = 'conntrack-system';
const USER = `system:serviceaccount:${NS}:conntrack-operator-controller`;
/** What the replicas warned or erred about, as one text (every API error's text is in its `err`). */
let complaints = '';
const keepComplaints = (obj: object, msg: string) => (complaints += `${msg} ${JSON.stringify(obj)}\n`);
const logger = { info() {}, debug() {}, warn: keepComplaints, error: keepComplaints };

let api: TestApi;

async function post(path: string, body: object): Promise<any> {
  const r = await api.request('POST', path, { body });
  assert.ok(r.status < 300, `POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

function nodeStatus(node: string, applied: 'True' | 'False', appliedReason: string, drifted: 'True' | 'False') {
  const c = (type: string, status: string, reason: string) => ({
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
    appliedPolicy: { name: 'web', policies: [{ name: 'web', generation: 1 }], mode: 'Enforce' },
    driftCount: drifted === 'True' ? 1 : 0,
    conditions: [
      c('Applied', applied, appliedReason),
      c('Drifted', drifted, drifted === 'True' ? 'Drift' : 'InSync'),
      c('Pressure', 'False', 'Normal'),
      c('TableFull', 'False', 'NotDropping'),
    ],
  };
}

before(async () => {
  api = await startApi({ users: [{ name: USER, groups: ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'] }] });
  for (const crd of buildCrds()) await createCrd(api, crd as unknown as Record<string, any>);
  await post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  const { objects } = await renderChart();
  const role = componentObject(objects, 'ClusterRole', 'controller');
  const leaseRoles = objects.filter((o) => o.kind === 'Role');
  await post('/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'test-controller' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
    subjects: [{ kind: 'ServiceAccount', name: 'conntrack-operator-controller', namespace: NS }],
  });
  for (const r of leaseRoles) {
    await post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, r);
    await post(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `test-${r.metadata.name}`, namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: r.metadata.name },
      subjects: [{ kind: 'ServiceAccount', name: 'conntrack-operator-controller', namespace: NS }],
    });
  }
  for (const [name, role] of [
    ['n1', 'web'],
    ['n2', 'web'],
    ['n3', 'web'],
    ['n4', 'db'],
  ] as const) {
    await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { role } } });
  }
  const policy = (name: string, spec: object) => ({ apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name }, spec });
  await post(
    '/apis/conntrack.io/v1alpha1/conntrackpolicies',
    policy('web', { nodeSelector: { matchLabels: { role: 'web' } }, priority: 5, timeouts: { tcp: { establishedSeconds: 600 } } }),
  );
  await post(
    '/apis/conntrack.io/v1alpha1/conntrackpolicies',
    policy('web-too', { nodeSelector: { matchLabels: { role: 'web' } }, priority: 5, timeouts: { tcp: { establishedSeconds: 900 } } }),
  );
  await post(
    '/apis/conntrack.io/v1alpha1/conntrackpolicies',
    policy('db', { nodeSelector: { matchLabels: { role: 'db' } }, timeouts: { udp: { unrepliedSeconds: 10 } } }),
  );
  for (const [node, applied, reason, drifted] of [
    ['n1', 'True', 'Applied', 'False'],
    ['n2', 'True', 'Applied', 'True'],
    ['n4', 'False', 'ApplyFailed', 'False'],
  ] as const) {
    const created = await post('/apis/conntrack.io/v1alpha1/conntrackstatuses', {
      apiVersion: 'conntrack.io/v1alpha1',
      kind: 'ConntrackStatus',
      metadata: { name: node },
    });
    const r = await api.request('PUT', `/apis/conntrack.io/v1alpha1/conntrackstatuses/${node}/status`, {
      body: { ...created, status: nodeStatus(node, applied, reason, drifted) },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
});
after(() => api?.stop());

test('two replicas, one leader; policy status aggregated; failover', { timeout: 60_000 }, async () => {
  const replicas = ['a', 'b'].map((id) => {
    const cluster = new ClusterApi(loadKubeConfig(api.kubeconfig(USER)));
    // The real clock, counting the timers set: a pass is only ever started by one (the debounce, a retry).
    const timers = { set: 0 };
    const clock = { ...realQueueClock, setTimeout: (fn: () => void, ms: number) => (timers.set++, realQueueClock.setTimeout(fn, ms)) };
    const controller = new PolicyController(cluster, realTiming({ backoffInitialMs: 100 }), logger, clock);
    const elector = new LeaderElector(
      cluster,
      { namespace: NS, name: 'conntrack-operator-controller', identity: id, leaseDurationSeconds: 2, renewDeadlineSeconds: 1, retryMs: 200 },
      Date.now,
      (l) => controller.setLeading(l),
      logger,
    );
    controller.start();
    elector.start();
    return { id, controller, elector, timers };
  });
  try {
    const web = await until('web policy status', async () => {
      const r = await api.request('GET', '/apis/conntrack.io/v1alpha1/conntrackpolicies/web');
      return r.body.status?.selectedNodes === 3 ? r.body.status : undefined;
    });
    assert.deepEqual([web.selectedNodes, web.inSyncNodes, web.driftedNodes, web.failedNodes, web.observedGeneration], [3, 1, 1, 0, 1]);
    const cond = Object.fromEntries(web.conditions.map((c: any) => [c.type, c.status]));
    assert.deepEqual(cond, { Rejected: 'False', Conflict: 'True', Degraded: 'True', Ready: 'False' });
    assert.match(web.conditions.find((c: any) => c.type === 'Conflict').message, /timeouts\.tcp\.establishedSeconds \(with web-too\)/);
    const db = (await api.request('GET', '/apis/conntrack.io/v1alpha1/conntrackpolicies/db')).body.status;
    assert.deepEqual([db.selectedNodes, db.failedNodes], [1, 1]);

    const leaders = replicas.filter((r) => r.elector.isLeader());
    assert.equal(leaders.length, 1, 'exactly one leader');
    const follower = replicas.find((r) => !r.elector.isLeader())!;
    assert.equal(follower.controller.stats.writes, 0, 'the follower writes nothing');

    const table = await runKubectl(['get', 'ctpol'], { kubeconfig: api.kubeconfig() });
    assert.match(table.stdout.split('\n')[0]!, /NAME\s+MODE\s+SELECTED\s+INSYNC\s+DRIFTED\s+AGE/);
    assert.match(table.stdout, /\nweb\s+Enforce\s+3\s+1\s+1\s/);

    // The leader goes away and releases the Lease: the other replica takes it at its next try
    // (well within the 2s lease duration) and keeps the status current.
    await leaders[0]!.controller.stop();
    const passesWhenStopped = leaders[0]!.controller.stats.passes;
    const timersWhenStopped = leaders[0]!.timers.set;
    // As an elector might while it shuts down: a stopped controller (its caches frozen) must make no pass, nor write:
    // it sets no timer (the debounce) and starts nothing (a key added now would start in this turn's microtasks).
    leaders[0]!.controller.setLeading(true);
    await new Promise((r) => setImmediate(r));
    assert.equal(leaders[0]!.timers.set, timersWhenStopped, 'the stopped controller scheduled a pass');
    assert.equal(leaders[0]!.controller.stats.passes, passesWhenStopped, 'the stopped controller made a pass');
    const stoppedAt = Date.now();
    await leaders[0]!.elector.stop();
    await until('failover', async () => (follower.elector.isLeader() ? true : undefined), 10_000);
    assert.ok(Date.now() - stoppedAt < 1500, `failover took ${Date.now() - stoppedAt}ms: the Lease was not released`);
    const lease = (await api.request('GET', `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/conntrack-operator-controller`)).body;
    assert.equal(lease.spec.holderIdentity, follower.id);
    await api.request('DELETE', '/apis/conntrack.io/v1alpha1/conntrackpolicies/web-too');
    await until('the conflict clears under the new leader', async () => {
      const r = await api.request('GET', '/apis/conntrack.io/v1alpha1/conntrackpolicies/web');
      return r.body.status.conditions.find((c: any) => c.type === 'Conflict').status === 'False' ? true : undefined;
    });
  } finally {
    for (const r of replicas) {
      await r.controller.stop();
      await r.elector.stop();
    }
  }
  // The chart's roles were enough: no request refused, in the test server's request log and, on both servers, in what the replicas logged.
  const refused = (api.server?.requests ?? []).filter((r) => r.user === USER && r.status === 403);
  assert.deepEqual(
    refused.map((r) => `${r.method} ${r.path}`),
    [],
  );
  assert.doesNotMatch(complaints, /forbidden|HTTP-Code: 403|HTTP 403/i);
});

// The chart's `helm test` for real: real helm installs the chart into the API
// server (the in-process test server, or a real kube-apiserver with
// KUBEBUILDER_ASSETS), this test plays the DaemonSet controller and the
// agents (one pod per node, a ConntrackStatus per node), and `helm test`
// runs the hook, whose pod a kubelet stand-in runs (hook-kubelet.ts) with
// the hook's own ServiceAccount, bound only by the hook's own RBAC. It fails,
// naming the node, while one agent's node is not Ready, and passes once it is.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { findObject, CHART_DIR, NAMESPACE, RELEASE, renderChart } from '../packaging/render.js';
import type { TestApi } from '../support/kube/harness.js';
import { runHelm } from '../support/kube/tools.js';
import { serviceAccountUser, startHookKubelet } from './hook-kubelet.js';
import { ok, putStatus } from './support.js';

const HOOK = `${RELEASE}-conntrack-operator-test`;
const HOOK_USER = {
  name: serviceAccountUser(NAMESPACE, HOOK),
  groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`, 'system:authenticated'],
};
const NODES = ['node-a', 'node-b'];
const stamp = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');

let api: TestApi;
before(async () => {
  const { startApi } = await import('../support/kube/harness.js');
  api = await startApi({ users: [HOOK_USER] });
  await ok(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  const installed = await runHelm(['install', RELEASE, CHART_DIR, '--namespace', NAMESPACE], { kubeconfig: api.kubeconfig(), timeoutMs: 120_000 });
  assert.equal(installed.code, 0, installed.stderr);
  // The DaemonSet controller's part: one pod per node from the template, bound to its node; the kubelet's: Running.
  const ds = await ok(api, 'GET', `/apis/apps/v1/namespaces/${NAMESPACE}/daemonsets/${RELEASE}-conntrack-operator-agent`);
  for (const node of NODES) {
    await ok(api, 'POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { 'kubernetes.io/os': 'linux' } } });
    const pod = await ok(api, 'POST', `/api/v1/namespaces/${NAMESPACE}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${ds.metadata.name}-${node}`, labels: ds.spec.template.metadata.labels },
      spec: { ...ds.spec.template.spec, nodeName: node },
    });
    await ok(api, 'PUT', `/api/v1/namespaces/${NAMESPACE}/pods/${pod.metadata.name}/status`, {
      ...pod,
      status: { phase: 'Running', startTime: stamp(600_000) },
    });
  }
});
after(() => api?.stop());

async function helmTest(): Promise<{ code: number; out: string; runs: Awaited<ReturnType<typeof startHookKubelet>>['runs'] }> {
  const kubelet = startHookKubelet(api, NAMESPACE);
  try {
    const r = await runHelm(['test', RELEASE, '--namespace', NAMESPACE, '--timeout', '120s'], { kubeconfig: api.kubeconfig(), timeoutMs: 150_000 });
    return { code: r.code, out: r.stdout + r.stderr, runs: kubelet.runs };
  } finally {
    await kubelet.stop();
  }
}

test('helm test fails, naming the node, while one agent is not Ready; passes once every agent is', { timeout: 600_000 }, async () => {
  await putStatus(api, 'node-a', { count: 1000, policy: 'web' });
  await putStatus(api, 'node-b', { count: 262_144, ready: 'False', readyReason: 'TableFull' });
  const failed = await helmTest();
  assert.notEqual(failed.code, 0, failed.out);
  assert.match(failed.out, new RegExp(`${HOOK}-agents-ready`));
  assert.equal(failed.runs.length, 1, 'the hook pod ran once');
  const [run] = failed.runs;
  assert.equal(run!.code, 2, run!.stderr);
  assert.match(
    run!.stdout,
    new RegExp(`node node-b: not Ready \\(False, TableFull: Ready False\\) \\(agent pod ${NAMESPACE}/${RELEASE}-conntrack-operator-agent-node-b\\)`),
  );
  assert.match(run!.stdout, /NOT READY: 1 of 2 agent node\(s\)/);
  assert.deepEqual(run!.args.slice(0, 3), ['kubectl', 'status', '--check-ready']);

  await putStatus(api, 'node-b', { count: 1000, policy: 'web' });
  const passed = await helmTest();
  assert.equal(passed.code, 0, `${passed.out}\n${passed.runs.map((r) => r.stdout + r.stderr).join('\n')}`);
  assert.match(passed.out, /Phase:\s+Succeeded/);
  assert.match(passed.runs[0]!.stdout, /READY: all 2 agent node\(s\)/);
  // Passed: the hook's RBAC is gone (hook-succeeded); its pod stays for `helm test --logs`.
  assert.equal((await api.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${HOOK}`)).status, 404);
  assert.equal((await api.request('GET', `/api/v1/namespaces/${NAMESPACE}/serviceaccounts/${HOOK}`)).status, 404);
  assert.equal((await api.request('GET', `/api/v1/namespaces/${NAMESPACE}/pods/${HOOK}-agents-ready`)).status, 200);
});

test('the hook asks for no more than it reads: list of ConntrackStatuses, list of pods in the release namespace', async () => {
  const { objects } = await renderChart([], ['--show-only', 'templates/tests/agents-ready.yaml'], undefined, { tests: true });
  assert.deepEqual(findObject(objects, 'ClusterRole', HOOK).rules, [{ apiGroups: ['conntrack.io'], resources: ['conntrackstatuses'], verbs: ['list'] }]);
  const role = findObject(objects, 'Role', HOOK);
  assert.equal(role.metadata.namespace, NAMESPACE);
  assert.deepEqual(role.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }]);
  for (const binding of [findObject(objects, 'ClusterRoleBinding', HOOK), findObject(objects, 'RoleBinding', HOOK)]) {
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: HOOK, namespace: NAMESPACE }]);
  }
  const pod = findObject(objects, 'Pod');
  assert.equal(pod.spec.serviceAccountName, HOOK);
  assert.ok(objects.every((o) => (o.metadata as { annotations?: Record<string, string> }).annotations?.['helm.sh/hook'] === 'test'));
  // Only what `helm test` creates: `helm install` (and manifests/) have none of it.
  assert.ok(!(await renderChart()).objects.some((o) => o.metadata.name.startsWith(HOOK)));
});

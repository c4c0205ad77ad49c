// The permissions the chart grants: exactly what the agent and the controller
// do with the API (see the RBAC needs in the in-cluster issue), nothing more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderAgentClusterRole } from './agent-rbac.js';
import { loadConfig } from '../../src/config.js';
import { componentObject, findObject, NAMESPACE, RELEASE, renderChart } from './render.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** "group/resource" -> sorted verbs, merged over the rules. */
function grants(rules: Rule[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const r of rules) {
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) (out[`${g}/${res}`] ??= new Set()).add(v);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

// Exactly the calls src/kube/cluster-api.ts makes; the in-cluster tests run with these roles, so a missing verb fails them.
test('the agent may read policies, nodes, pods and ServiceCIDRs, write its status and events, nothing else', async () => {
  const role = await renderAgentClusterRole();
  assert.equal(role.kind, 'ClusterRole');
  assert.deepEqual(grants(role.rules), {
    'conntrack.io/conntrackpolicies': ['list', 'watch'],
    '/nodes': ['list', 'watch'],
    'networking.k8s.io/servicecidrs': ['list', 'watch'],
    '/pods': ['list', 'watch'],
    'conntrack.io/conntrackstatuses': ['create', 'get'],
    'conntrack.io/conntrackstatuses/status': ['update'],
    '/events': ['create', 'patch'],
  });
});

test('the controller reads policies, statuses and nodes, writes policy status and its Lease', async () => {
  const { objects } = await renderChart();
  assert.deepEqual(grants(componentObject(objects, 'ClusterRole', 'controller').rules), {
    'conntrack.io/conntrackpolicies': ['list', 'watch'],
    'conntrack.io/conntrackpolicies/status': ['update'],
    'conntrack.io/conntrackstatuses': ['list', 'watch'],
    '/nodes': ['list', 'watch'],
  });
  const role = findObject(objects, 'Role');
  assert.equal(role.metadata.namespace, NAMESPACE);
  assert.deepEqual(grants(role.rules), { 'coordination.k8s.io/leases': ['create', 'get', 'update'] });
});

test('agent.podNames=false: no pods grant, and the agent is told not to ask', async () => {
  const { objects } = await renderChart(['agent.podNames=false']);
  const role = grants(componentObject(objects, 'ClusterRole', 'agent').rules);
  assert.equal(role['/pods'], undefined);
  const { '/pods': _, ...withoutPods } = grants((await renderAgentClusterRole()).rules);
  assert.deepEqual(role, withoutPods, 'only the pods grant goes');
  const args = findObject(objects, 'DaemonSet').spec.template.spec.containers[0].args as string[];
  assert.ok(args.includes('--no-pod-names'));
  assert.equal(loadConfig(args, { NODE_NAME: 'n' }, 'h').podNames, false);
  const defaults = findObject((await renderChart()).objects, 'DaemonSet').spec.template.spec.containers[0].args as string[];
  assert.ok(!defaults.includes('--no-pod-names'));
});

test("every cluster-scoped object carries its release's name: two releases share none", async () => {
  const releases = [
    { name: RELEASE, namespace: NAMESPACE },
    { name: 'canary', namespace: 'conntrack-canary' },
  ];
  const clusterScoped = await Promise.all(
    releases.map(async (release) => {
      const { objects } = await renderChart(['metrics.prometheusRule.enabled=true'], [], release);
      const found = objects.filter((o) => !o.metadata.namespace);
      for (const o of found) assert.ok(o.metadata.name.startsWith(`${release.name}-`), `${o.kind} ${o.metadata.name} of release ${release.name}`);
      return found.map((o) => `${o.kind}/${o.metadata.name}`);
    }),
  );
  assert.deepEqual([...new Set(clusterScoped[0]!.map((k) => k.split('/')[0]))].sort(), [
    'ClusterRole',
    'ClusterRoleBinding',
    'PriorityClass',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
  ]);
  assert.deepEqual(
    clusterScoped[0]!.filter((k) => clusterScoped[1]!.includes(k)),
    [],
  );
});

test('each binding gives its role to its own service account only', async () => {
  const { objects } = await renderChart();
  const serviceAccountOf = (kind: string, component: string) =>
    objects.find((o) => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/component'] === component)!;
  for (const component of ['agent', 'controller']) {
    const pod = serviceAccountOf(component === 'agent' ? 'DaemonSet' : 'Deployment', component).spec.template.spec;
    for (const binding of objects.filter(
      (o) => o.kind.endsWith('Binding') && o.kind !== 'ValidatingAdmissionPolicyBinding' && o.metadata.labels?.['app.kubernetes.io/component'] === component,
    )) {
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName, namespace: NAMESPACE }], binding.metadata.name);
    }
  }
});

test("the admission policy matches the agent's service account and compares the name with the token's node", async () => {
  const { objects } = await renderChart();
  const policy = findObject(objects, 'ValidatingAdmissionPolicy');
  const agentSa = findObject(objects, 'DaemonSet').spec.template.spec.serviceAccountName;
  assert.deepEqual(
    policy.spec.matchConditions.map((c: any) => c.expression),
    [`request.userInfo.username == 'system:serviceaccount:${NAMESPACE}:${agentSa}'`],
  );
  assert.deepEqual(policy.spec.matchConstraints.resourceRules[0].resources, ['conntrackstatuses', 'conntrackstatuses/status']);
  assert.match(policy.spec.variables[0].expression, /request\.userInfo\.extra\['authentication\.kubernetes\.io\/node-name'\]\[0\]/);
  assert.ok(policy.spec.validations.some((v: any) => v.expression === 'object.metadata.name == variables.nodeName'));
  const binding = findObject(objects, 'ValidatingAdmissionPolicyBinding');
  assert.equal(binding.spec.policyName, policy.metadata.name);
  assert.deepEqual(binding.spec.validationActions, ['Deny']);
});

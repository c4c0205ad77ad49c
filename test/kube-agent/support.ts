// A small cluster for agent tests: the test API server (or a real one with
// KUBEBUILDER_ASSETS), our CRDs, the agent's service account bound to exactly
// the ClusterRole the Helm chart renders, and a Node.
import { buildCrds } from '../../src/kube/crds.js';
import { renderAgentClusterRole } from '../packaging/agent-rbac.js';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

export const AGENT_NS = 'conntrack-operator';
export const AGENT_SA = 'conntrack-operator-agent';
export const AGENT_USER = `system:serviceaccount:${AGENT_NS}:${AGENT_SA}`;
export const AGENT_GROUPS = ['system:serviceaccounts', `system:serviceaccounts:${AGENT_NS}`, 'system:authenticated'];

export interface TestCluster {
  api: TestApi;
  nodeUid: string;
}

async function ok(what: string, p: Promise<{ status: number; body: any }>): Promise<any> {
  const r = await p;
  if (r.status >= 300) throw new Error(`${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function startCluster(nodeName: string, labels: Record<string, string>): Promise<TestCluster> {
  const api = await startApi({ users: [{ name: AGENT_USER, groups: AGENT_GROUPS }] });
  for (const crd of buildCrds()) await createCrd(api, crd as unknown as Record<string, any>);
  const role = (await renderAgentClusterRole()) as { metadata: { name: string } };
  await ok('agent ClusterRole', api.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterroles', { body: role }));
  await ok(
    'agent ClusterRoleBinding',
    api.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
      body: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'test-agent' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: AGENT_SA, namespace: AGENT_NS }],
      },
    }),
  );
  const node = await ok('Node', api.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels } } }));
  return { api, nodeUid: node.metadata.uid };
}

export { until } from '../support/until.js';

/** Events in the default namespace about the node, as `kubectl describe node` would list them. */
export async function nodeEvents(api: TestApi, nodeName: string): Promise<Array<{ reason: string; type: string; message: string; count: number }>> {
  const r = await api.request('GET', `/api/v1/namespaces/default/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${nodeName}`)}`);
  return (r.body.items ?? []) as Array<{ reason: string; type: string; message: string; count: number }>;
}

export async function getStatus(api: TestApi, nodeName: string): Promise<any> {
  const r = await api.request('GET', `/apis/conntrack.io/v1alpha1/conntrackstatuses/${nodeName}`);
  return r.status === 200 ? r.body : undefined;
}

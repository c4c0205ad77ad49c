// The agent in a cluster finds the ranges NOTRACK rules must stay off where the
// cluster states them (the ServiceCIDR API, its Node's spec.podCIDRs), on the test
// API server and on a real kube-apiserver alike, with the chart's ClusterRole: the
// ClusterCidrsKnown condition says which ranges and from where, a ServiceCIDR added
// later reaches the guardrail at once, and a node without pod ranges refuses the
// rules that depend on them (and says which) while a rule for node-local destinations still passes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentProcess } from '../../src/cli/agent.js';
import { SERVICE_CLUSTER_IP_RANGE } from '../support/kube/envtest.js';
import { AGENT_USER, agentHost, getStatus, startCluster, startClusterAgent, until, type AgentHost, type TestCluster } from './support.js';

const SERVICE_CIDRS = '/apis/networking.k8s.io/v1beta1/servicecidrs';
const POLICY = {
  apiVersion: 'conntrack.io/v1alpha1',
  kind: 'ConntrackPolicy',
  metadata: { name: 'edge' },
  spec: {
    nodeSelector: { matchLabels: { role: 'edge' } },
    timeouts: { tcp: { timeWaitSeconds: 30 } },
    notrack: [
      { name: 'loopback', interface: 'lo', destinations: ['127.0.0.0/8'] },
      { name: 'web', protocol: 'tcp', ports: [443], direction: 'inbound', destinations: ['203.0.113.10/32'] },
      { name: 'late', protocol: 'tcp', ports: [8443], direction: 'inbound', destinations: ['10.96.0.10/32'] },
    ],
  },
};

let cluster: TestCluster;

async function post(path: string, body: object): Promise<void> {
  const r = await cluster.api.request('POST', path, { body });
  assert.ok(r.status < 300, `POST ${path}: ${r.status} ${r.text}`);
}

/** The ClusterCidrsKnown condition once it satisfies `ok`. */
function cidrsCondition(node: string, ok: (c: { status: string; reason: string; message: string }) => boolean) {
  return until(
    `${node}: ClusterCidrsKnown as expected`,
    async () => {
      const c = (await getStatus(cluster.api, node))?.status?.conditions?.find((x: any) => x.type === 'ClusterCidrsKnown');
      return c && ok(c) ? c : undefined;
    },
    30_000,
  );
}

async function withAgent(node: string, fn: (logs: () => string) => Promise<void>): Promise<void> {
  let logs = '';
  let host: AgentHost | undefined;
  let agent: AgentProcess | undefined;
  try {
    host = await agentHost();
    agent = await startClusterAgent(cluster.api.kubeconfig(AGENT_USER), host, node, (line) => (logs += line));
    await fn(() => logs);
  } finally {
    await agent?.stop();
    await host?.cleanup();
  }
}

before(async () => {
  cluster = await startCluster('unused-node', { role: 'none' });
  await post('/apis/conntrack.io/v1alpha1/conntrackpolicies', POLICY);
  await post('/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: 'with-ranges', labels: { role: 'edge' } },
    spec: { podCIDRs: ['10.244.1.0/24'] },
  });
  await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'no-ranges', labels: { role: 'edge' } } });
});
after(() => cluster?.api.stop());

test(
  'the Service range from the ServiceCIDR API and the pod range from the Node; a ServiceCIDR added later reaches the guardrail',
  { timeout: 90_000 },
  async () => {
    await withAgent('with-ranges', async (logs) => {
      const known = await cidrsCondition('with-ranges', (c) => c.reason === 'Known');
      assert.equal(known.status, 'True');
      assert.equal(known.message, `Service: ${SERVICE_CLUSTER_IP_RANGE} (ServiceCIDR kubernetes); Pod: 10.244.1.0/24 (Node spec.podCIDRs).`);
      assert.doesNotMatch(logs(), /forbidden/i);
      assert.doesNotMatch(logs(), /"field":"spec\.notrack\[late\]"/, 'nothing known overlaps "late" yet');

      await post(SERVICE_CIDRS, {
        apiVersion: 'networking.k8s.io/v1beta1',
        kind: 'ServiceCIDR',
        metadata: { name: 'extra' },
        spec: { cidrs: ['10.96.0.0/16'] },
      });
      try {
        const grown = await cidrsCondition('with-ranges', (c) => c.message.includes('10.96.0.0/16'));
        assert.equal(
          grown.message,
          `Service: ${SERVICE_CLUSTER_IP_RANGE}, 10.96.0.0/16 (ServiceCIDR extra, kubernetes); Pod: 10.244.1.0/24 (Node spec.podCIDRs).`,
        );
        await until(
          'the rule into the new range refused',
          async () => (/"field":"spec\.notrack\[late\]".*overlaps the Service CIDR 10\.96\.0\.0\/16/.test(logs()) ? true : undefined),
          30_000,
        );
      } finally {
        await cluster.api.request('DELETE', `${SERVICE_CIDRS}/extra`);
      }
    });
  },
);

test(
  'a node without spec.podCIDRs: ClusterCidrsKnown False, the rules that need the ranges refused and named, loopback still allowed',
  { timeout: 90_000 },
  async () => {
    await withAgent('no-ranges', async (logs) => {
      const unknown = await cidrsCondition('no-ranges', (c) => c.reason === 'Unknown');
      assert.equal(unknown.status, 'False');
      assert.match(
        unknown.message,
        new RegExp(
          `^Service: ${SERVICE_CLUSTER_IP_RANGE.replace(/[./]/g, '\\$&')} \\(ServiceCIDR kubernetes\\); Pod: not known \\(this Node has no spec\\.podCIDRs`,
        ),
      );
      assert.match(unknown.message, /refused now spec\.notrack\[late\] of edge, spec\.notrack\[web\] of edge\. Give them with agent\.serviceCidrs/);
      assert.doesNotMatch(unknown.message, /spec\.notrack\[loopback\]/);
      assert.match(logs(), /"field":"spec\.notrack\[web\]".*needs the Service and Pod ranges, and this node does not know its Pod ranges/);
    });
  },
);

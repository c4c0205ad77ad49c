// End to end, over the wire: the agent's Kubernetes access (ClusterApi and ClusterPolicySource, as
// src/cli/agent.ts builds them, with the agent's RBAC) lists its Node and the policies at
// resourceVersion "0" first (the apiserver's watch cache, no etcd read), relists after a lost
// watch at the resourceVersion it had synced (not older than), and never makes a consistent read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterApi, loadKubeConfig } from '../../src/kube/cluster-api.js';
import { ClusterPolicySource } from '../../src/kube/cluster-policy-source.js';
import { realTiming } from '../../src/kube/reflector.js';
import { SKIP_REAL_SERVER } from '../support/kube/harness.js';
import type { RequestLogEntry } from '../support/kube/server.js';
import { AGENT_USER, startCluster, until } from '../kube-agent/support.js';
import { silentLog } from '../support/silent-log.js';

const NODE = 'node-a';
const POLICIES = '/apis/conntrack.io/v1alpha1/conntrackpolicies';
const policy = (timeWaitSeconds: number) => ({
  apiVersion: 'conntrack.io/v1alpha1',
  kind: 'ConntrackPolicy',
  metadata: { name: 'web-nodes' },
  spec: { nodeSelector: { matchLabels: { role: 'web' } }, mode: 'Enforce', timeouts: { tcp: { establishedSeconds: 600, timeWaitSeconds } } },
});
const quiet = silentLog();

/** The agent's lists (not watches) of one collection, with their query. */
function lists(log: RequestLogEntry[], path: string): URLSearchParams[] {
  return log
    .filter((r) => r.user === AGENT_USER && r.method === 'GET' && r.path === path)
    .map((r) => new URLSearchParams(r.query))
    .filter((q) => q.get('watch') !== 'true' && q.get('watch') !== '1');
}

test(
  'the agent lists its Node and the policies at "0" first, relists at its synced resourceVersion, never a consistent read',
  { timeout: 60_000 },
  async (t) => {
    const cluster = await startCluster(NODE, { role: 'web' });
    const stateDir = await mkdtemp(join(tmpdir(), 'ctop-list-rv-'));
    let source: ClusterPolicySource | undefined;
    try {
      const server = cluster.api.server;
      if (!server || !cluster.api.faults) return t.skip(SKIP_REAL_SERVER);
      const created = await cluster.api.request('POST', POLICIES, { body: policy(30) });
      assert.equal(created.status, 201, created.text);

      const api = new ClusterApi(loadKubeConfig(cluster.api.kubeconfig(AGENT_USER)));
      source = new ClusterPolicySource(api, NODE, stateDir, realTiming({ backoffInitialMs: 50, backoffMaxMs: 200 }), quiet);
      await source.start();
      await until('the source synced', async () => (source!.ready() && source!.current().policies.length === 1 ? true : undefined));

      const [firstNodes] = lists(server.requests, '/api/v1/nodes');
      const [firstPolicies] = lists(server.requests, POLICIES);
      assert.equal(firstNodes?.get('resourceVersion'), '0', `first Node list: ?${firstNodes}`);
      assert.equal(firstNodes?.get('fieldSelector'), `metadata.name=${NODE}`);
      assert.equal(firstPolicies?.get('resourceVersion'), '0', `first policy list: ?${firstPolicies}`);

      // Lose every watch and every resourceVersion handed out so far: the relists ask for what was synced.
      const synced = server.store.currentRv();
      cluster.api.faults.expireResourceVersions();
      cluster.api.faults.cutWatches();
      await until('both relisted', async () =>
        lists(server.requests, '/api/v1/nodes').length > 1 && lists(server.requests, POLICIES).length > 1 ? true : undefined,
      );
      for (const path of ['/api/v1/nodes', POLICIES]) {
        const relist = lists(server.requests, path)[1]!;
        const rv = relist.get('resourceVersion');
        assert.ok(rv && rv !== '0' && Number(rv) <= synced, `${path} relisted at ?${relist}, not at the synced resourceVersion`);
      }

      // And the source still follows the API.
      const changed = await cluster.api.request('PUT', `${POLICIES}/web-nodes`, {
        body: { ...policy(45), metadata: { name: 'web-nodes', resourceVersion: created.body.metadata.resourceVersion } },
      });
      assert.equal(changed.status, 200, changed.text);
      await until('the change seen', async () => (source!.current().policies[0]?.spec.timeouts?.tcp?.timeWaitSeconds === 45 ? true : undefined));

      const consistent = [...lists(server.requests, '/api/v1/nodes'), ...lists(server.requests, POLICIES)].filter((q) => !q.get('resourceVersion'));
      assert.deepEqual(consistent.map(String), [], 'no list without a resourceVersion (a consistent read from etcd)');
    } finally {
      await source?.stop();
      await cluster.api.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  },
);

// The agent in a cluster, with its real @kubernetes/client-node calls against
// the test API server (RBAC on, the agent's token bound to exactly the chart's
// ClusterRole) and a copy of a real kernel's /proc and /sys as its host.
// kubectl applies and deletes the policy, as a user would.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AgentProcess } from '../../src/cli/agent.js';
import { readNumber, ERROR_LINE } from '../cli/cli-support.js';
import { runKubectl } from '../support/kube/tools.js';
import { SKIP_REAL_SERVER } from '../support/kube/harness.js';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import {
  AGENT_USER,
  agentHost,
  getStatus,
  nodeEvents,
  startCluster,
  startClusterAgent,
  startOutageProxy,
  until,
  type AgentHost,
  type OutageProxy,
  type TestCluster,
} from './support.js';

const NODE = 'node-a';
const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: web-nodes}
spec:
  nodeSelector: {matchLabels: {role: web}}
  mode: Enforce
  timeouts:
    tcp: {establishedSeconds: 600, timeWaitSeconds: 30}
`;

let cluster: TestCluster;
let tree: AgentHost;
/** The agent reaches the API through it, so the API can go away and come back. */
let proxy: OutageProxy;
let logs = '';
const timeWait = () => readNumber(join(tree.procRoot, 'sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait'));
const established = () => readNumber(join(tree.procRoot, 'sys/net/netfilter/nf_conntrack_tcp_timeout_established'));

function start(): Promise<AgentProcess> {
  const kubeconfig = writeKubeconfig({
    server: proxy.url,
    token: cluster.api.tokenFor(AGENT_USER),
    user: AGENT_USER,
    dir: tree.dir,
    caData: cluster.api.caData,
  });
  return startClusterAgent(kubeconfig, tree, NODE, (line) => (logs += line));
}

async function kubectl(args: string[], input?: string) {
  const r = await runKubectl(args, { kubeconfig: cluster.api.kubeconfig(), ...(input ? { input } : {}) });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

before(async () => {
  cluster = await startCluster(NODE, { role: 'web' });
  tree = await agentHost();
  proxy = await startOutageProxy(cluster.api.url);
});
after(async () => {
  // Either is undefined when before() failed: its error is the one to read.
  await proxy?.stop();
  await cluster?.api.stop();
  await tree?.cleanup();
});

test('apply, drift, API outage, delete: status, events and the kernel follow', { timeout: 90_000 }, async () => {
  await kubectl(['apply', '-f', '-'], POLICY);
  let agent = await start();
  try {
    const status = await until('ConntrackStatus Applied=True', async () => {
      const s = await getStatus(cluster.api, NODE);
      return s?.status?.conditions?.some((c: any) => c.type === 'Applied' && c.status === 'True') ? s : undefined;
    });
    assert.equal(await established(), 600);
    assert.equal(await timeWait(), 30);
    assert.deepEqual(
      status.metadata.ownerReferences.map((o: any) => [o.kind, o.name, o.uid]),
      [['Node', NODE, cluster.nodeUid]],
    );
    assert.equal(status.status.appliedPolicy.name, 'web-nodes');
    assert.equal(status.status.baseline.nf_conntrack_tcp_timeout_established, '432000');
    for (const c of status.status.conditions) assert.equal(c.observedGeneration, 1, `${c.type} observedGeneration`);
    await until('ConntrackPolicyApplied event', async () =>
      (await nodeEvents(cluster.api, NODE)).some((e) => e.reason === 'ConntrackPolicyApplied' && e.type === 'Normal') ? true : undefined,
    );

    // kubectl get ctst prints our columns.
    const table = await kubectl(['get', 'ctst']);
    assert.match(table.split('\n')[0]!, /NAME\s+READY\s+USAGE\s+COUNT\s+MAX\s+BUCKETS\s+DROPS\s+FULL-IN\s+POLICY\s+DRIFT\s+AGE/);
    assert.match(table, new RegExp(`${NODE}\\s+True\\s+0%\\s+0\\s+262144\\s+262144\\s+0\\s+web-nodes\\s+0`));
    // kubectl describe: the sections an SRE looks for, in plain words. (The finding that stays in every
    // pass is kube-proxy's; the 5-day established timeout is one only until the policy changes it.)
    const described = await kubectl(['describe', 'ctst', NODE]);
    for (const section of [
      /Applied Policy:/,
      /Baseline:/,
      /Conditions:/,
      /Reason:\s+Applied/,
      /Type:\s+Ready/,
      /Type:\s+InsertionRace/,
      /Findings:[^]*Id:\s+kube-proxy-present/,
      /Table:\s*\n\s+Buckets:\s+262144/,
    ])
      assert.match(described, section);

    // Someone else writes a key: a Warning event names it, and the agent puts it back.
    await writeFile(join(tree.procRoot, 'sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait'), '120\n');
    const drift = await until('ConntrackDriftDetected event', async () =>
      (await nodeEvents(cluster.api, NODE)).find((e) => e.reason === 'ConntrackDriftDetected'),
    );
    assert.equal(drift.type, 'Warning');
    assert.match(drift.message, /nf_conntrack_tcp_timeout_time_wait is 120, policy says 30/);
    await until('the drift corrected', async () => ((await timeWait()) === 30 ? true : undefined));
  } finally {
    await agent.stop();
  }

  // The API is down when the agent restarts (and the node lost our values, as after a reboot):
  // the agent enforces the last policy it knew from its state dir.
  await writeFile(join(tree.procRoot, 'sys/net/netfilter/nf_conntrack_tcp_timeout_established'), '432000\n');
  proxy.down();
  agent = await start();
  try {
    await until('enforced from the cache while the API is down', async () => ((await established()) === 600 ? true : undefined));
    proxy.up();

    // kubectl delete: the node gets its own values back, the status and an event say so.
    await kubectl(['delete', 'ctpol', 'web-nodes']);
    await until('values restored', async () => ((await established()) === 432000 && (await timeWait()) === 120 ? true : undefined));
    const restored = await until('status Restored', async () => {
      const s = await getStatus(cluster.api, NODE);
      return s?.status?.conditions?.find((c: any) => c.type === 'Applied' && c.reason === 'Restored');
    });
    assert.equal(restored.status, 'False');
    await until('ConntrackRestored event', async () =>
      (await nodeEvents(cluster.api, NODE)).some((e) => e.reason === 'ConntrackRestored') ? true : undefined,
    );
  } finally {
    await agent.stop();
  }

  // Least privilege holds both ways: the chart's role was enough (no request of the agent was refused:
  // the test server's request log says so, and on both servers the agent logged no 403).
  const log = cluster.api.server?.requests ?? [];
  const refused = log.filter((r) => r.user === AGENT_USER && r.status === 403);
  assert.deepEqual(
    refused.map((r) => `${r.method} ${r.path}`),
    [],
  );
  assert.doesNotMatch(logs, /forbidden|HTTP-Code: 403/i);
  assert.doesNotMatch(logs, ERROR_LINE, 'no error logged');
});

test('API faults: cut watches, expired resourceVersions, 500/503/429: the agent recovers and follows the policy', { timeout: 60_000 }, async (t) => {
  const faults = cluster.api.faults;
  if (!faults) return t.skip(SKIP_REAL_SERVER);
  await kubectl(['apply', '-f', '-'], POLICY);
  const agent = await start();
  try {
    await until('applied', async () => ((await timeWait()) === 30 ? true : undefined));
    faults.cutWatches();
    faults.expireResourceVersions();
    // The agent's own requests (lists, watches, status writes), not kubectl's.
    const match = (r: { method: string; path: string }) =>
      (r.method === 'GET' && /\/(conntrackpolicies|nodes)$/.test(r.path)) || r.path.includes('/conntrackstatuses');
    faults.failNext(3, { status: 500, match });
    faults.failNext(3, { status: 503, retryAfterSeconds: 1, match });
    faults.failNext(3, { status: 429, retryAfterSeconds: 1, match });
    await kubectl(['apply', '-f', '-'], POLICY.replace('timeWaitSeconds: 30', 'timeWaitSeconds: 45'));
    await until('the new policy generation applied', async () => ((await timeWait()) === 45 ? true : undefined), 30_000);
    const s = await until(
      'status for generation 2',
      async () => {
        const st = await getStatus(cluster.api, NODE);
        return st?.status?.appliedPolicy?.policies?.[0]?.generation === 2 && st.status.conditions.some((c: any) => c.type === 'Applied' && c.status === 'True')
          ? st
          : undefined;
      },
      30_000,
    );
    assert.equal(s.status.driftCount, 0);
  } finally {
    await agent.stop();
    await kubectl(['delete', 'ctpol', 'web-nodes']);
  }
});

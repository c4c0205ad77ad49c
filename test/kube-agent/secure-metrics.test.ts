// metrics.secure end to end, on the test API server and a real kube-apiserver
// alike: the agent and the controller, each bound to its ClusterRole as the
// chart renders it with metrics.secure.enabled=true, serve /metrics over
// HTTPS; a token bound to the chart's metrics-reader role scrapes, no token or
// an unknown one gets 401, a known user without the role 403. A process whose
// role lacks the review grants answers 500 (the API server refused its
// TokenReview) until they are granted. The kubelet's health paths stay plain
// HTTP on their own address.
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { runController } from '../../src/cli/controller.js';
import type { AgentProcess } from '../../src/cli/agent.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { componentObject, renderChart, type K8sObject } from '../packaging/render.js';
import { AGENT_NS, agentHost, agentUser, startCluster, startClusterAgent, until, type AgentHost, type TestCluster } from './support.js';

const NODE = 'node-secure-1';
const SECURE = ['metrics.secure.enabled=true'];
/** Service accounts of the agent's namespace: the controller, a scraper, and someone RBAC knows nothing of. */
const CONTROLLER = 'controller';
const SCRAPER = 'prometheus';
const STRANGER = 'stranger';

let cluster: TestCluster;
let rendered: K8sObject[];

async function post(path: string, body: object): Promise<void> {
  const r = await cluster.api.request('POST', path, { body });
  assert.ok(r.status < 300, `POST ${path}: ${r.status} ${r.text}`);
}

async function bind(role: K8sObject, account: string): Promise<void> {
  await post('/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `test-${role.metadata.name}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
    subjects: [{ kind: 'ServiceAccount', name: account, namespace: AGENT_NS }],
  });
}

const tokenOf = (account: string) => cluster.api.tokenFor(agentUser(account).name);

function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // Self-signed: scrapers skip verification (test/cli/health-server.test.ts checks the certificate).
    const req = request(url, { rejectUnauthorized: false, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The URLs a process logged at start ("agent started" / "controller started"). */
function startedAt(logs: string, message: string): { metrics: string; health: string } | undefined {
  const line = logs.split('\n').find((l) => l.includes(`"msg":"${message}"`));
  return line ? (JSON.parse(line) as { metrics: string; health: string }) : undefined;
}

/** No token, an unknown one, a user without the role, the scraper: 401, 401, 403, 200. */
async function assertGuarded(metricsUrl: string): Promise<void> {
  const answers = [await get(metricsUrl), await get(metricsUrl, 'not-a-token'), await get(metricsUrl, tokenOf(STRANGER))];
  assert.deepEqual(
    answers.map((a) => [a.status, a.body.trim()]),
    [
      [401, 'Unauthorized'],
      [401, 'Unauthorized'],
      [403, `Authorization denied for user ${agentUser(STRANGER).name}`],
    ],
  );
  const scraped = await get(metricsUrl, tokenOf(SCRAPER));
  assert.equal(scraped.status, 200, scraped.body);
  assert.match(scraped.body, /^conntrack_operator_build_info\{/m);
  // The command adds the process's own metrics to its registry.
  assert.match(scraped.body, /^process_cpu_user_seconds_total /m);
  assert.match(scraped.body, /^nodejs_version_info\{/m);
}

before(async () => {
  cluster = await startCluster(NODE, { role: 'web' }, [CONTROLLER, SCRAPER, STRANGER], SECURE);
  rendered = (await renderChart(SECURE)).objects;
  const reader = rendered.find((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-metrics-reader'))!;
  await bind(reader, SCRAPER);
});
after(() => cluster?.api.stop());

test('the agent: /metrics over HTTPS to the metrics reader only; health on its own plain address', { timeout: 60_000 }, async () => {
  let logs = '';
  let host: AgentHost | undefined;
  let agent: AgentProcess | undefined;
  try {
    host = await agentHost();
    agent = await startClusterAgent(cluster.api.kubeconfig(agentUser('conntrack-operator-agent').name), host, NODE, (line) => (logs += line), [
      '--metrics-secure',
      '--health-addr',
      '127.0.0.1:0',
    ]);
    const urls = startedAt(logs, 'agent started');
    assert.ok(urls, logs);
    assert.match(urls.metrics, /^https:\/\/127\.0\.0\.1:\d+\/metrics$/);
    await assertGuarded(urls.metrics);
    assert.equal((await get(urls.health)).status, 200, 'the kubelet needs no token');
    assert.equal((await get(urls.health.replace('/healthz', '/metrics'))).status, 404, 'no metrics on the health address');
    assert.doesNotMatch(logs, /could not review a scrape/, 'every review worked: the chart role grants them');
  } finally {
    await agent?.stop();
    await host?.cleanup();
  }
});

test("the controller: 500 while its role lacks the review grants (said once at warn), guarded as the agent's once granted", { timeout: 60_000 }, async () => {
  let logs = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((logs += String(chunk)), cb()) });
  const config = loadConfig(
    ['controller', '--metrics-secure', '--metrics-addr', '127.0.0.1:0', '--health-addr', '127.0.0.1:0'],
    {
      KUBECONFIG: cluster.api.kubeconfig(agentUser(CONTROLLER).name),
      POD_NAMESPACE: AGENT_NS,
      POD_NAME: 'controller-0',
    },
    'host',
  );
  let stop!: (signal: string) => void;
  const running = runController(config, createLogger('info', 'controller-0', sink), new Promise<string>((resolve) => (stop = resolve)));
  try {
    const urls = await until('the controller started', async () => startedAt(logs, 'controller started'), 20_000);
    const refused = await get(urls.metrics, tokenOf(SCRAPER));
    assert.deepEqual([refused.status, refused.body.trim()], [500, 'Authentication failed']);
    assert.match(
      logs,
      /"level":40[^\n]*tokenreviews[^\n]*forbidden[^\n]*could not review a scrape|"level":40[^\n]*could not review a scrape[^\n]*tokenreviews/,
    );

    await bind(componentObject(rendered, 'ClusterRole', 'controller'), CONTROLLER);
    // A failed review is not cached; the API server's RBAC takes a moment to see a new binding.
    await until(
      'the scraper allowed once the controller may review',
      async () => ((await get(urls.metrics, tokenOf(SCRAPER))).status === 200 ? true : undefined),
      20_000,
    );
    await assertGuarded(urls.metrics);
    assert.equal((await get(urls.health)).status, 200);
  } finally {
    stop('SIGTERM');
    assert.equal(await running, 0);
  }
});

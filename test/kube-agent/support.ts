// A small cluster for agent tests: the test API server (or a real one with
// KUBEBUILDER_ASSETS), our CRDs, the agent's service account bound to exactly
// the ClusterRole the Helm chart renders, and a Node; and the agent itself,
// started in-process against a copy of a real kernel's /proc and /sys.
import { mkdir, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startAgent, type AgentProcess } from '../../src/cli/agent.js';
import { realHost, type Host } from '../../src/kernel/host.js';
import { loadConfig } from '../../src/config.js';
import { buildCrds } from '../../src/api/v1alpha1/crds.js';
import { createLogger } from '../../src/logger.js';
import { fixtureCopy } from '../cli/cli-support.js';
import { renderAgentClusterRole } from '../packaging/agent-rbac.js';
import { FakeRunner } from '../support/fake-runner.js';
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

/** A service account user in the agent's namespace, as its token authenticates. */
export function agentUser(serviceAccount: string): { name: string; groups: string[] } {
  return { name: `system:serviceaccount:${AGENT_NS}:${serviceAccount}`, groups: AGENT_GROUPS };
}

/**
 * `otherAgents`: more service accounts of the agent's namespace with a token, bound to nothing yet;
 * `chartValues`: values the agent's role is rendered with (e.g. metrics.secure.enabled=true).
 */
export async function startCluster(
  nodeName: string,
  labels: Record<string, string>,
  otherAgents: string[] = [],
  chartValues: string[] = [],
): Promise<TestCluster> {
  const api = await startApi({ users: [AGENT_SA, ...otherAgents].map(agentUser) });
  for (const crd of buildCrds()) await createCrd(api, crd as unknown as Record<string, any>);
  const role = (await renderAgentClusterRole(chartValues)) as { metadata: { name: string } };
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

const KUBE_PROXY_PID = 4242;

export interface AgentHost {
  procRoot: string;
  sysRoot: string;
  dir: string;
  host: Host;
  cleanup(): Promise<void>;
}

/** A copy of the host-6.18 fixture tree as the agent's host, with kube-proxy running as on any cluster node. */
export async function agentHost(): Promise<AgentHost> {
  const tree = await fixtureCopy('host-6.18');
  await mkdir(join(tree.procRoot, String(KUBE_PROXY_PID)));
  await writeFile(join(tree.procRoot, String(KUBE_PROXY_PID), 'comm'), 'kube-proxy\n');
  return { ...tree, host: { ...realHost({ procRoot: tree.procRoot, sysRoot: tree.sysRoot }, false), runner: new FakeRunner() } }; // no external tool on this "host": the fixture tree has everything the agent needs
}

/** Starts `conntrack-operator agent --kubernetes` in-process with a kubeconfig, for node `nodeName`; its JSON log lines go to `log`. */
export function startClusterAgent(
  kubeconfig: string,
  on: AgentHost,
  nodeName: string,
  log: (line: string) => void,
  flags: string[] = [],
): Promise<AgentProcess> {
  const config = loadConfig(
    [
      'agent',
      '--kubernetes',
      '--proc-root',
      on.procRoot,
      '--sys-root',
      on.sysRoot,
      '--state-dir',
      join(on.dir, 'state'),
      '--notrack-backend',
      'nftables',
      '--interval',
      '1s',
      '--metrics-addr',
      '127.0.0.1:0',
      ...flags,
    ],
    { NODE_NAME: nodeName, KUBECONFIG: kubeconfig },
    'unused',
  );
  const sink = new Writable({ write: (chunk, _enc, cb) => (log(String(chunk)), cb()) });
  return startAgent(config, on.host, createLogger('info', nodeName, sink));
}

export interface OutageProxy {
  /** https://127.0.0.1:<port>: the API server's address as seen through the proxy. */
  url: string;
  /** The API is gone: open connections are cut and new ones closed at once. */
  down(): void;
  up(): void;
  stop(): Promise<void>;
}

/**
 * A TCP relay to the API server that can be cut: an API outage as the agent sees it, on the
 * test server and on a real kube-apiserver alike (TLS passes through; the certificate names 127.0.0.1).
 */
export async function startOutageProxy(apiUrl: string): Promise<OutageProxy> {
  const target = new URL(apiUrl);
  const open = new Set<Socket>();
  let isUp = true;
  const server = createServer((client) => {
    if (!isUp) return void client.destroy();
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => (client.destroy(), upstream.destroy()));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const down = () => {
    isUp = false;
    for (const s of open) s.destroy();
  };
  return {
    url: `https://127.0.0.1:${port}`,
    down,
    up: () => void (isUp = true),
    stop: () => (down(), new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}

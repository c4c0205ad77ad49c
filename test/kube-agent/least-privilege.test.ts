// The chart's agent ClusterRole is the least the agent needs, on the test API
// server and on a real kube-apiserver alike: one agent bound to the role as
// rendered works and is never refused; for each permission the agent uses, an
// agent bound to the role without it is refused (403) on the call that needs
// it and says so in its log. Pods are optional (they only name the pods of
// network namespaces), and so are ServiceCIDRs (without them the Service ranges
// are not known: the status says so and NOTRACK rules that depend on them are
// refused): without either the agent also goes on and gets in sync; with the chart's
// agent.podNames=false (no grant, --no-pod-names) it never asks for pods.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AgentProcess } from '../../src/cli/agent.js';
import { renderAgentClusterRole } from '../packaging/agent-rbac.js';
import type { K8sObject } from '../packaging/render.js';
import { AGENT_NS, agentHost, agentUser, getStatus, startCluster, startClusterAgent, until, type AgentHost, type TestCluster } from './support.js';

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

interface Variant {
  /** Service account and node name. */
  name: string;
  removed?: { resource: string; verb: string; path: string };
  /** The role as rendered with agent.podNames=false, and the flag the chart then passes. */
  podNamesOff?: true;
}

// Every grant but events "patch", which only an event repeated within minutes uses
// (the recorder's aggregation; unit-tested in test/report). The path is what a refused
// watch is logged with: a watch's 403 comes without the server's message.
const REMOVED: Array<[resource: string, verb: string, path: string]> = [
  ['conntrackpolicies', 'list', ''],
  ['conntrackpolicies', 'watch', '/apis/conntrack.io/v1alpha1/conntrackpolicies'],
  ['nodes', 'list', ''],
  ['nodes', 'watch', '/api/v1/nodes'],
  ['pods', 'list', ''],
  ['pods', 'watch', '/api/v1/pods'],
  ['servicecidrs', 'list', ''],
  ['servicecidrs', 'watch', '/apis/networking.k8s.io/v1beta1/servicecidrs'],
  ['conntrackstatuses', 'get', ''],
  ['conntrackstatuses', 'create', ''],
  ['conntrackstatuses/status', 'update', ''],
  ['events', 'create', ''],
];
const VARIANTS: Variant[] = [
  { name: 'agent-full-role' },
  { name: 'agent-no-pod-names', podNamesOff: true },
  ...REMOVED.map(([resource, verb, path]) => ({ name: `agent-no-${verb}-${resource.replace('/', '-')}`, removed: { resource, verb, path } })),
];

/** What the agent logs when the call is refused: the API server's 403 message, or for a watch its path and status. */
function refusalText(v: Variant & { removed: object }): string {
  const { verb, resource, path } = v.removed;
  return verb === 'watch' ? `watch ${path}: HTTP 403 Forbidden` : `User ${agentUser(v.name).name} cannot ${verb} resource ${resource} in API group`;
}

/** The role's rules without one verb on one resource (a rule left with no verb is dropped). */
function without(rules: Rule[], resource: string, verb: string): Rule[] {
  const found = rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb));
  if (!found) throw new Error(`the chart's agent role grants no ${verb} on ${resource}: update this test's table`);
  return rules.flatMap((r) => {
    if (!r.resources.includes(resource) || !r.verbs.includes(verb)) return [r];
    const rest = r.resources.filter((x) => x !== resource);
    const kept = r.verbs.filter((v) => v !== verb);
    return [...(rest.length ? [{ ...r, resources: rest }] : []), ...(kept.length ? [{ ...r, resources: [resource], verbs: kept }] : [])];
  });
}

let cluster: TestCluster;

const inSync = (node: string) =>
  until(
    'ConntrackStatus Applied=True',
    async () => ((await getStatus(cluster.api, node))?.status?.conditions?.some((c: any) => c.type === 'Applied' && c.status === 'True') ? true : undefined),
    30_000,
  );
let role: K8sObject;
let roleWithoutPods: K8sObject;

/** What the status says of the Service ranges: without list they are not known, and why; without watch the lists still tell them. */
const serviceRanges = (node: string, expected: RegExp) =>
  until(
    'ClusterCidrsKnown naming the Service ranges',
    async () => {
      const c = (await getStatus(cluster.api, node))?.status?.conditions?.find((x: any) => x.type === 'ClusterCidrsKnown');
      return expected.test(c?.message ?? '') ? true : undefined;
    },
    30_000,
  );

async function post(path: string, body: object): Promise<void> {
  const r = await cluster.api.request('POST', path, { body });
  assert.ok(r.status < 300, `POST ${path}: ${r.status} ${r.text}`);
}

/** A ClusterRole (the chart's, less `removed`) bound to the variant's service account, and a Node of its name. */
async function provision(v: Variant): Promise<void> {
  const rules = v.removed ? without(role.rules as Rule[], v.removed.resource, v.removed.verb) : v.podNamesOff ? roleWithoutPods.rules : role.rules;
  await post('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: v.name },
    rules,
  });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: v.name },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: v.name },
    subjects: [{ kind: 'ServiceAccount', name: v.name, namespace: AGENT_NS }],
  });
  await post('/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: v.name, labels: { role: 'web' } } });
}

before(async () => {
  cluster = await startCluster(
    'unused-node',
    { role: 'none' },
    VARIANTS.map((v) => v.name),
  );
  role = await renderAgentClusterRole();
  roleWithoutPods = await renderAgentClusterRole(['agent.podNames=false']);
  await post('/apis/conntrack.io/v1alpha1/conntrackpolicies', {
    apiVersion: 'conntrack.io/v1alpha1',
    kind: 'ConntrackPolicy',
    metadata: { name: 'web-nodes' },
    spec: { nodeSelector: { matchLabels: { role: 'web' } }, timeouts: { tcp: { timeWaitSeconds: 30 } } },
  });
  for (const v of VARIANTS) await provision(v);
});
after(() => cluster?.api.stop());

describe('the agent with the chart role, and with one permission less', { concurrency: true, timeout: 120_000 }, () => {
  for (const v of VARIANTS) {
    const title = v.removed
      ? `without ${v.removed.verb} on ${v.removed.resource}: refused and logged`
      : v.podNamesOff
        ? 'with the role rendered with agent.podNames=false and --no-pod-names: in sync, never refused, pods never asked for'
        : 'with the role as rendered: in sync, never refused';
    test(title, async () => {
      let logs = '';
      let host: AgentHost | undefined;
      let agent: AgentProcess | undefined;
      try {
        host = await agentHost();
        const flags = v.podNamesOff ? ['--no-pod-names'] : [];
        agent = await startClusterAgent(cluster.api.kubeconfig(agentUser(v.name).name), host, v.name, (line) => (logs += line), flags);
        if (v.removed) {
          // Quotes and escapes removed: the 403 body reaches the log JSON-encoded more than once.
          const refusal = refusalText({ ...v, removed: v.removed });
          const refused = () => logs.replace(/[\\"]/g, '').includes(refusal);
          await until(`the agent logs the 403 for ${v.removed.verb} ${v.removed.resource}`, async () => (refused() ? true : undefined), 30_000).catch(
            (err: unknown) => {
              throw new Error(`${String(err)}; the agent logged:\n${logs}`);
            },
          );
          if (['pods', 'servicecidrs'].includes(v.removed.resource)) {
            await inSync(v.name);
            if (v.removed.resource === 'servicecidrs')
              await serviceRanges(v.name, v.removed.verb === 'list' ? /Service: not known \(not allowed to list servicecidrs/ : /Service: 10\.0\.0\.0\/24/);
            assert.equal(
              logs.split('\n').filter((l) => l.includes('"level":40') && l.replace(/[\\"]/g, '').includes(refusal)).length,
              1,
              `the refusal is logged once at warn:\n${logs}`,
            );
          }
        } else {
          await inSync(v.name);
          assert.doesNotMatch(logs, /forbidden/i);
          if (v.podNamesOff) {
            assert.match(logs, /--no-pod-names: this node's pods are not listed/);
            // The request log exists only in the in-process server; on a real one the absent 403 above says it.
            const asked = cluster.api.server?.requests.filter((r) => r.user === agentUser(v.name).name && r.path === '/api/v1/pods');
            assert.deepEqual(asked ?? [], [], 'no pods list or watch');
          }
        }
      } finally {
        await agent?.stop();
        await host?.cleanup();
      }
    });
  }
});

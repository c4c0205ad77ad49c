// The kubeconfig as kubectl finds it (kube/kubectl-config.ts), on files in a
// temp folder; and which agent pod doctor picks on a node (kube/agent-pods.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { runningAgentOn, type AgentPod } from '../../src/kube/agent-pods.js';
import { loadKubectlConfig } from '../../src/kube/kubectl-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ctop-kubectl-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const NO_SA = join(dir, 'no-service-account-token');

/** A kubeconfig file: clusters and contexts named as given, each context on its cluster, one user. */
function kubeconfig(
  name: string,
  o: { clusters: Record<string, string>; contexts: Record<string, { cluster: string; namespace?: string }>; current?: string },
): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: Object.entries(o.clusters).map(([n, server]) => ({ name: n, cluster: { server, 'insecure-skip-tls-verify': true } })),
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: Object.entries(o.contexts).map(([n, c]) => ({ name: n, context: { ...c, user: 'u' } })),
      ...(o.current ? { 'current-context': o.current } : {}),
    }),
  );
  return path;
}

const first = kubeconfig('first', {
  clusters: { prod: 'https://prod.example:6443' },
  contexts: { prod: { cluster: 'prod', namespace: 'ops' } },
  current: 'prod',
});
const second = kubeconfig('second', {
  clusters: { prod: 'https://shadowed.example:6443', dev: 'https://dev.example:6443' },
  contexts: { dev: { cluster: 'dev' }, prod: { cluster: 'dev' } },
  current: 'dev',
});
const noCurrent = kubeconfig('no-current', { clusters: { dev: 'https://dev.example:6443' }, contexts: { dev: { cluster: 'dev' } } });

const cases: Array<{ name: string; input: Parameters<typeof loadKubectlConfig>[0]; want: { server: string; context: string; namespace?: string } }> = [
  { name: '--kubeconfig: that file', input: { kubeconfig: second, kubeconfigSearch: [first] }, want: { server: 'https://dev.example:6443', context: 'dev' } },
  {
    name: "KUBECONFIG's files merged, the first to name a cluster or context wins, and the first current-context",
    input: { kubeconfigSearch: [join(dir, 'missing'), first, second] },
    want: { server: 'https://prod.example:6443', context: 'prod', namespace: 'ops' },
  },
  {
    name: '--context picks a context of a later file',
    input: { kubeconfigSearch: [first, second], context: 'dev' },
    want: { server: 'https://dev.example:6443', context: 'dev' },
  },
  {
    name: 'a file without current-context, and --context',
    input: { kubeconfigSearch: [noCurrent], context: 'dev' },
    want: { server: 'https://dev.example:6443', context: 'dev' },
  },
];
for (const tc of cases) {
  test(`loadKubectlConfig: ${tc.name}`, () => {
    const { kc, namespace } = loadKubectlConfig(tc.input, NO_SA);
    assert.deepEqual({ server: kc.getCurrentCluster()?.server, context: kc.getCurrentContext(), ...(namespace ? { namespace } : {}) }, tc.want);
  });
}

const refused: Array<{ name: string; input: Parameters<typeof loadKubectlConfig>[0]; message: RegExp }> = [
  { name: 'a missing --kubeconfig', input: { kubeconfig: join(dir, 'nope'), kubeconfigSearch: [first] }, message: /--kubeconfig .*nope: no such file$/ },
  {
    name: 'no file and no service account',
    input: { kubeconfigSearch: [join(dir, 'missing')] },
    message: /no kubeconfig \(looked at .*missing\) and no pod service account/,
  },
  {
    name: 'an unknown --context',
    input: { kubeconfigSearch: [first], context: 'qa' },
    message: /--context qa: .*first has no such context \(contexts: prod\)$/,
  },
  {
    name: 'no current-context',
    input: { kubeconfigSearch: [noCurrent] },
    message: /no-current: no current-context; name one with --context \(contexts: dev\)$/,
  },
  { name: 'not a kubeconfig', input: { kubeconfigSearch: [kubeconfigText('broken', 'clusters: [')] }, message: /broken: not a kubeconfig: / },
];
for (const tc of refused) test(`loadKubectlConfig refuses ${tc.name}`, () => assert.throws(() => loadKubectlConfig(tc.input, NO_SA), tc.message));

function kubeconfigText(name: string, text: string): string {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
}

const pod = (name: string, o: Partial<AgentPod> = {}): AgentPod => ({
  pod: `ns/${name}`,
  namespace: 'ns',
  name,
  nodeName: 'n',
  phase: 'Running',
  deleting: false,
  args: [],
  ...o,
});
const where = { namespace: 'ns', selector: 'app=a' };

test('runningAgentOn: the running pod not being deleted; during a rolling update the new one', () => {
  assert.equal(runningAgentOn([pod('old', { deleting: true }), pod('new')], 'n', where).name, 'new');
  assert.equal(runningAgentOn([pod('crashed', { phase: 'Failed' }), pod('ok')], 'n', where).name, 'ok');
});

test('runningAgentOn: none, none running, or two releases: an error naming them', () => {
  assert.throws(() => runningAgentOn([], 'n', where), /no agent pod on node "n" in namespace ns \(pods labelled app=a\)/);
  assert.throws(() => runningAgentOn([pod('a', { deleting: true })], 'n', where), /no running agent pod on node "n": ns\/a is Running and being deleted/);
  assert.throws(
    () => runningAgentOn([pod('a', { release: 'r1' }), pod('b', { release: 'r2' })], 'n', where),
    /2 agent pods run on node "n": ns\/a \(release r1\), ns\/b \(release r2\)/,
  );
});

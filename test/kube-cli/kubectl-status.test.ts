// `kubectl conntrack status` against the API server (the in-process test
// server, or a real kube-apiserver with KUBEBUILDER_ASSETS): the rows from
// several ConntrackStatus objects, fullest first, as text, JSON and YAML;
// --check-ready over the agent pods; the kubeconfig found as kubectl finds
// it; and each refusal named: no CRD, RBAC, bad credentials, no server.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { load } from 'js-yaml';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import { runKubectl } from '../support/kube/tools.js';
import type { TestApi } from '../support/kube/harness.js';
import { AGENT_LABELS, AGENT_NS, putAgentPod, putStatus, runStatus, startPluginCluster } from './support.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VIEWER = { name: 'viewer', groups: ['system:authenticated'] };
const stamp = (msAgo: number) => new Date(Date.now() - msAgo).toISOString().replace(/\.\d+Z$/, 'Z');

let api: TestApi;
let dir: string;
before(async () => {
  api = await startPluginCluster({ users: [VIEWER] });
  dir = mkdtempSync(join(tmpdir(), 'ctop-kubectl-status-'));
  await putStatus(api, 'n-idle', { count: 1000, policy: 'web' });
  await putStatus(api, 'n-busy', { count: 200_000, policy: 'web' });
  await putStatus(api, 'n-pod', {
    count: 1000,
    policy: 'web',
    top: [{ inode: 4026532175, entries: 250_000, podNamespace: 'shop', podName: 'web-0', podUid: 'uid-1' }],
  });
  await putStatus(api, 'n-full', { count: 131_072, ready: 'False', readyReason: 'TableFull' });
});
after(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('kubectl conntrack status', () => {
  test('one row per node, fullest first: usage, entries, the fullest namespace, policy, readiness', async () => {
    const { code, out } = await runStatus(['--kubeconfig', api.kubeconfig()]);
    assert.equal(code, 0);
    const [header, ...rows] = out.trimEnd().split('\n');
    assert.match(header!, /^NODE\s+USAGE\s+ENTRIES\s+FULLEST\s+DROPS\s+FORECAST\s+POLICY\s+READY\s+PROBED$/);
    const cells = rows.map((r) => r.split(/\s{3,}/));
    assert.deepEqual(
      cells.map((c) => c.slice(0, 4)),
      [
        ['n-pod', '95%', '250k/262k', 'shop/web-0'],
        ['n-busy', '76%', '200k/262k', 'host'],
        ['n-full', '50%', '131k/262k', 'host'],
        ['n-idle', '0%', '1000/262k', 'host'],
      ],
    );
    assert.deepEqual(
      cells.map((c) => c.slice(6, 8)),
      [
        ['web', 'True'],
        ['web', 'True'],
        ['<none>', 'False (TableFull)'],
        ['web', 'True'],
      ],
    );
  });

  test('-o json and -o yaml: the same rows as data', async () => {
    const json = JSON.parse((await runStatus(['--kubeconfig', api.kubeconfig(), '-o', 'json'])).out) as { items: any[] };
    assert.deepEqual(
      json.items.map((r) => [r.node, r.usagePercent, r.entries, r.max, r.fullest, r.policy, r.ready.status]),
      [
        ['n-pod', 95.37, 250_000, 262_144, { host: false, inode: 4026532175, podNamespace: 'shop', podName: 'web-0', podUid: 'uid-1' }, 'web', 'True'],
        ['n-busy', 76.29, 200_000, 262_144, { host: true }, 'web', 'True'],
        ['n-full', 50, 131_072, 262_144, { host: true }, null, 'False'],
        ['n-idle', 0.38, 1000, 262_144, { host: true }, 'web', 'True'],
      ],
    );
    const yaml = load((await runStatus(['--kubeconfig', api.kubeconfig(), '-o', 'yaml'])).out);
    assert.deepEqual(yaml, json);
  });

  test('--check-ready: exit 0 when every agent pod of the release is on a Ready node, 2 naming the node that is not', async () => {
    const started = stamp(3_600_000);
    await putAgentPod(api, { name: 'agent-idle', node: 'n-idle', startTime: started });
    await putAgentPod(api, { name: 'agent-busy', node: 'n-busy', startTime: started });
    await putAgentPod(api, { name: 'other-release', node: 'n-full', startTime: started, labels: { ...AGENT_LABELS, 'app.kubernetes.io/instance': 'other' } });
    const release = 'app.kubernetes.io/name=conntrack-operator,app.kubernetes.io/component=agent,app.kubernetes.io/instance=ctop';
    const ready = await runStatus(['--kubeconfig', api.kubeconfig(), '--check-ready', '-n', AGENT_NS, '-l', release]);
    assert.equal(ready.code, 0, ready.out);
    assert.match(ready.out, /\nREADY: all 2 agent node\(s\)\n$/);

    const all = await runStatus(['--kubeconfig', api.kubeconfig(), '--check-ready', '-n', AGENT_NS]);
    assert.equal(all.code, 2, all.out);
    assert.match(
      all.out,
      /\nnode n-full: not Ready \(False, TableFull: Ready False\) \(agent pod conntrack-operator\/other-release\)\nNOT READY: 1 of 3 agent node\(s\)\n$/,
    );
    const data = JSON.parse((await runStatus(['--kubeconfig', api.kubeconfig(), '--check-ready', '-n', AGENT_NS, '-o', 'json'])).out);
    assert.deepEqual([data.readiness.ok, data.readiness.ready], [false, ['n-busy', 'n-idle']]);
  });

  test('--check-ready with no agent pod in the namespace fails: nothing was checked', async () => {
    const r = await runStatus(['--kubeconfig', api.kubeconfig(), '--check-ready', '-n', 'default']);
    assert.equal(r.code, 2);
    assert.match(r.out, /NOT READY: no agent pod is scheduled on a node\n$/);
  });

  test("the kubeconfig as kubectl finds it: KUBECONFIG's list (missing files skipped), the context's namespace, --context", async () => {
    const admin = writeKubeconfig({ server: api.url, token: api.adminToken, user: 'ns-admin', dir, caData: api.caData, namespace: AGENT_NS });
    const r = await runStatus(['--check-ready'], { KUBECONFIG: `${join(dir, 'missing')}:${admin}` });
    assert.equal(r.code, 2, r.out); // the pods of AGENT_NS, the context's namespace: n-full's is not Ready
    assert.match(r.out, /NOT READY: 1 of 3/);
    await assert.rejects(runStatus(['--context', 'prod'], { KUBECONFIG: admin }), /--context prod: .* has no such context \(contexts: ns-admin\)/);
    await assert.rejects(runStatus([], { KUBECONFIG: join(dir, 'missing') }), /no kubeconfig \(looked at .*missing\) and no pod service account/);
  });

  test("RBAC refusal: named, with the server's message", async () => {
    await assert.rejects(
      runStatus(['--kubeconfig', api.kubeconfig(VIEWER.name)]),
      /^Error: listing ConntrackStatus objects: refused by RBAC: conntrackstatuses.conntrack.io is forbidden: User "viewer" cannot list resource "conntrackstatuses" in API group "conntrack.io" at the cluster scope/,
    );
  });

  test('bad credentials and an unreachable server: named', async () => {
    const badToken = writeKubeconfig({ server: api.url, token: 'not-a-token', user: 'stranger', dir, caData: api.caData });
    await assert.rejects(runStatus(['--kubeconfig', badToken]), /refused the credentials of context "stranger" \(HTTP 401 Unauthorized\)/);
    const nowhere = writeKubeconfig({ server: 'https://127.0.0.1:1', token: 't', user: 'nowhere', dir, insecureSkipTLSVerify: true });
    await assert.rejects(runStatus(['--kubeconfig', nowhere]), /cannot reach the API server https:\/\/127.0.0.1:1 \(context "nowhere"\): .*ECONNREFUSED/);
  });
});

test("real kubectl finds the package's kubectl-conntrack on PATH and runs it: `kubectl conntrack status`", async () => {
  // The package as npm installs it: bin/kubectl-conntrack linked onto PATH, bin/conntrack-operator and
  // dist/bundle/ beside it (here dist/bundle/main.js hands over to src/ through tsx).
  const pkg = join(dir, 'pkg');
  mkdirSync(join(pkg, 'bin'), { recursive: true });
  mkdirSync(join(pkg, 'dist', 'bundle'), { recursive: true });
  copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json')); // "type": "module": the shim is ESM
  for (const bin of ['kubectl-conntrack', 'conntrack-operator']) {
    copyFileSync(join(ROOT, 'bin', bin), join(pkg, 'bin', bin));
    chmodSync(join(pkg, 'bin', bin), 0o755);
  }
  writeFileSync(join(pkg, 'dist', 'bundle', 'main.js'), `await import(${JSON.stringify(join(ROOT, 'src', 'cli', 'main.ts'))});\n`);
  const onPath = join(dir, 'path');
  mkdirSync(onPath);
  symlinkSync(join(pkg, 'bin', 'kubectl-conntrack'), join(onPath, 'kubectl-conntrack'));
  const env = { PATH: `${onPath}:${process.env.PATH}`, NODE_OPTIONS: '--import tsx' };

  const list = await runKubectl(['plugin', 'list'], { env, cwd: ROOT });
  assert.match(list.stdout, /\/kubectl-conntrack\n/, list.stderr);
  const r = await runKubectl(['conntrack', 'status', '-o', 'json'], { kubeconfig: api.kubeconfig(), env, cwd: ROOT, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    (JSON.parse(r.stdout) as { items: Array<{ node: string }> }).items.map((i) => i.node),
    ['n-pod', 'n-busy', 'n-full', 'n-idle'],
  );
  const usage = await runKubectl(['conntrack', 'doctor'], { env, cwd: ROOT, timeoutMs: 60_000 });
  assert.equal(usage.code, 1);
  assert.match(usage.stderr, /kubectl doctor needs NODE[\s\S]*or: kubectl conntrack doctor NODE \[flags\]/);
});

test('a cluster without the CRDs: says they are not installed', async () => {
  const bare = await startPluginCluster({ crds: false });
  try {
    await assert.rejects(
      runStatus(['--kubeconfig', bare.kubeconfig()]),
      /listing ConntrackStatus objects: the cluster serves no conntrackstatuses.conntrack.io: conntrack-operator's CRDs are not installed/,
    );
  } finally {
    await bare.stop();
  }
});

// The image, built from the Dockerfile as it is and run as the DaemonSet runs
// it (root only; `npm run test:image`, not part of `npm test`: it builds an
// image). scripts/image/build.sh assembles the FROM's base image from Debian's
// archive and the npm registry and builds with podman --pull=never; the
// container gets the security context, mounts, env and args of the DaemonSet
// that helm renders with default values (scripts/image/pod-to-podman.ts), in a
// network namespace this test makes, which plays the node's network.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { dump } from 'js-yaml';
import { daemonSetOf, podmanRunOptions, podRunOptions, type HostPathNeed, type KubeletSide, type PodmanRun } from '../../scripts/image/pod-to-podman.js';
import { RealCommandRunner, type CommandResult } from '../../src/kernel/command-runner.js';
import { componentObject, findObject, renderChart, type K8sObject } from '../packaging/render.js';
import { MAIN } from '../cli/cli-support.js';
import { envtestConfigured } from '../support/kube/envtest.js';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import { ensureKubeTools } from '../support/kube/tools.js';
import { execIn, execInOk, withNetns } from '../support/netns.js';
import { until } from '../support/until.js';
import { appliedStatusIn, serveApiIn } from '../kube-e2e/serve-api-in.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PODMAN = join(ROOT, 'scripts/image/podman.sh');
const BUILD = join(ROOT, 'scripts/image/build.sh');
// With KUBEBUILDER_ASSETS (the envtest convention) the real kube-apiserver, else the in-process test server.
const CRDS = join(ROOT, 'crds');
// One tag per checkout: worktrees on one machine share podman's images, and each test must run the image it built.
const TAG = `localhost/conntrack-operator:image-test-${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`;
const NODE = 'image-node';
const NETFILTER = '/proc/sys/net/netfilter';
const runner = new RealCommandRunner();

/** A /host/proc/<pid>/ns/net link that root outside the container cannot read either. */
function refusedOnHostToo(path: string): boolean {
  const pid = /^\/host\/proc\/(\d+)\/ns\/net$/.exec(path)?.[1];
  if (!pid) return false;
  try {
    readlinkSync(`/proc/${pid}/ns/net`);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES';
  }
}

/** The network namespaces with a process, as root on the host sees them: the inode of each pid's net/stat (one per namespace). */
function namespacesOnHost(): Set<number> {
  const keys = new Set<number>();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      keys.add(statSync(`/proc/${pid}/net/stat`).ino);
    } catch {
      // exited meanwhile
    }
  }
  return keys;
}

function skipReason(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root (podman, network namespaces, the host paths the pod mounts)';
  const missing = ['podman', 'debootstrap', 'ip', 'nft', 'iptables-nft-save'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length ? `missing tool(s): ${missing.join(', ')} (.ci/run installs them from Debian)` : undefined;
}

async function ok(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await runner.run(cmd, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

const podman = (args: string[], timeoutMs?: number) => ok(PODMAN, args, timeoutMs);

/** The kubelet's side of hostPath types: make what *OrCreate asks for, refuse what is missing. */
async function prepareHostPaths(needs: HostPathNeed[]): Promise<void> {
  for (const { path, type } of needs) {
    if (type === 'DirectoryOrCreate') await mkdir(path, { recursive: true });
    else if (type === 'FileOrCreate' && !existsSync(path)) await writeFile(path, '');
    const st = statSync(path);
    const fine = {
      Directory: st.isDirectory(),
      DirectoryOrCreate: st.isDirectory(),
      File: st.isFile(),
      FileOrCreate: st.isFile(),
      CharDevice: st.isCharacterDevice(),
      '': true,
    }[type];
    assert.ok(fine, `hostPath ${path}: not a ${type}; the kubelet would refuse the pod`);
  }
}

/** The host path of the DaemonSet's state volume (a test folder stands in for it). */
function stateHostPath(ds: any): string {
  return ds.spec.template.spec.volumes.find((v: any) => v.name === 'state').hostPath.path as string;
}

/** The same kubelet side, with the state volume in another test folder. */
function withStateDir(ds: any, kubelet: KubeletSide, dir: string): KubeletSide {
  return { ...kubelet, hostPathOverrides: { ...kubelet.hostPathOverrides, [stateHostPath(ds)]: dir } };
}

/** The pod's args with `--name=value` flags replaced (each must be there) or dropped (value null). */
function withFlags(args: string[], flags: Record<string, string | null>): string[] {
  for (const name of Object.keys(flags))
    assert.ok(
      args.some((a) => a === name || a.startsWith(`${name}=`)),
      `the pod's args have no ${name}`,
    );
  return args.flatMap((a) => {
    const name = a.split('=')[0]!;
    if (!(name in flags)) return [a];
    const value = flags[name];
    return value === null ? [] : [`${name}=${value}`];
  });
}

/** The flags naming the host's /proc and /sys and the state dir, as the pod passes them. */
function rootFlags(pod: PodmanRun): string[] {
  return pod.args.filter((a) => /^--(proc-root|sys-root|state-dir)=/.test(a));
}

/** HTTP GET from inside the namespace (the probe port is on its loopback). */
async function httpGet(ns: string, port: number, path: string): Promise<{ status: number; body: string }> {
  const script = `fetch(process.argv[1]).then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.error(String(e)); process.exit(1); })`;
  return JSON.parse(await execInOk(ns, process.execPath, ['-e', script, `http://127.0.0.1:${port}${path}`], { timeoutMs: 10_000 })) as {
    status: number;
    body: string;
  };
}

async function netfilterValues(ns: string): Promise<Record<string, string>> {
  const out = await execInOk(ns, 'sh', ['-c', `cd ${NETFILTER} && grep -H . nf_conntrack_*timeout*`]);
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(':') as [string, string]),
  );
}

/** VmRSS of the container's first process (the agent), from the host's /proc. */
async function rssKiB(name: string): Promise<number> {
  const pid = (await podman(['inspect', '--format', '{{.State.Pid}}', name])).trim();
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

interface Container {
  name: string;
  /** SIGTERM, then the exit code (the pod's grace period applies). */
  stop(): Promise<number>;
  logs(): Promise<string>;
}

async function startContainer(name: string, options: string[], args: string[]): Promise<Container> {
  await podman(['run', '--detach', `--name=${name}`, ...options, TAG, ...args]);
  const logs = async () => {
    const r = await runner.run(PODMAN, ['logs', name]);
    return r.stdout + r.stderr;
  };
  return {
    name,
    logs,
    stop: async () => {
      await podman(['stop', name], 60_000);
      const code = Number((await podman(['inspect', '--format', '{{.State.ExitCode}}', name])).trim());
      await podman(['rm', name]);
      return code;
    },
  };
}

async function readyWithin(ns: string, pod: PodmanRun, c: Container, ms = 60_000): Promise<void> {
  await until(
    `${c.name}: ${pod.readiness.path} 200`,
    async () => ((await httpGet(ns, pod.readiness.port, pod.readiness.path)).status === 200 ? true : undefined),
    ms,
  ).catch(async (err: unknown) => {
    throw new Error(`${String(err)}\n${await c.logs()}`);
  });
}

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: image-test}
spec:
  mode: Enforce
  timeouts:
    tcp: {establishedSeconds: 900, closeWaitSeconds: 30}
    udp: {unrepliedSeconds: 20}
  notrack:
    - name: loopback
      interface: lo
`;
const POLICY_VALUES = { nf_conntrack_tcp_timeout_established: '900', nf_conntrack_tcp_timeout_close_wait: '30', nf_conntrack_udp_timeout: '20' };

/** Our NOTRACK rules as the backend shows them in the namespace ('' when there are none). */
async function notrackRules(ns: string, backend: string): Promise<string> {
  if (backend === 'nftables') {
    return (await execInOk(ns, 'nft', ['list', 'ruleset']))
      .split('\n')
      .filter((l) => /notrack/.test(l) && /lo\b/.test(l))
      .join('\n');
  }
  return (await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']))
    .split('\n')
    .filter((l) => l.startsWith('-A CTOP-'))
    .join('\n');
}

async function standaloneAgent(t: TestContext, ns: string, ds: any, kubelet: KubeletSide, dir: string, backend: string): Promise<void> {
  const before = await netfilterValues(ns);
  const hostEstablished = await readFile(`${NETFILTER}/nf_conntrack_tcp_timeout_established`, 'utf8');
  const policyFile = join(dir, `policy-${backend}.yaml`);
  await writeFile(policyFile, POLICY);
  const stateDir = join(dir, `state-${backend}`);
  const run = podmanRunOptions(ds, withStateDir(ds, kubelet, stateDir));
  await prepareHostPaths(run.hostPaths);
  const options = [...run.options, `--volume=${policyFile}:/etc/conntrack-operator/policy.yaml:ro`];
  const args = withFlags(run.args, { '--kubernetes': null, '--notrack-backend': backend });
  args.push('--policy-file=/etc/conntrack-operator/policy.yaml');

  const name = `ctop-image-${backend}-${process.pid}`;
  let agent: Container | null = await startContainer(name, options, args);
  try {
    await readyWithin(ns, run, agent);
    const applied = await netfilterValues(ns);
    for (const [key, value] of Object.entries(POLICY_VALUES)) assert.equal(applied[key], value, `${key} in the namespace`);
    assert.equal(await readFile(`${NETFILTER}/nf_conntrack_tcp_timeout_established`, 'utf8'), hostEstablished, "the host's own namespace is untouched");
    assert.notEqual(await notrackRules(ns, backend), '', `${backend}: NOTRACK rules for lo in the namespace`);

    const live = await httpGet(ns, run.liveness.port, run.liveness.path);
    assert.equal(live.status, 200, `liveness ${run.liveness.path}: ${live.body}`);
    const metrics = await httpGet(ns, run.ports.metrics!, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.body, /^conntrack_operator_table_entries \d+$/m);
    t.diagnostic(`${backend}: agent RSS in the container ${Math.round((await rssKiB(name)) / 1024)} MiB after the first pass`);
    const logs = await agent.logs();
    // The pod as installed: not even a warning (a read-only path, a missing tool, a device it cannot open).
    assert.doesNotMatch(logs, /"level":(40|50|60)/, `no warning or error in the agent's log:\n${logs}`);
    assert.equal(await agent.stop(), 0, 'SIGTERM: exit 0');
    agent = null;

    // A restarted pod: the baseline in the state volume still holds the values from before the first change.
    assert.ok((await readdir(stateDir)).length > 0, 'the baseline is in the state volume');
    agent = await startContainer(name, options, args);
    await readyWithin(ns, run, agent);
    assert.equal(await agent.stop(), 0);
    agent = null;

    await podman(['run', '--rm', ...run.options, TAG, 'restore', ...rootFlags(run), `--notrack-backend=${backend}`]);
    assert.deepEqual(await netfilterValues(ns), before, 'restore put every value back');
    assert.equal(await notrackRules(ns, backend), '', `${backend}: restore removed our NOTRACK rules`);
  } finally {
    if (agent) await runner.run(PODMAN, ['rm', '--force', name]);
  }
}

const serviceAccountUser = (namespace: string, name: string) => ({
  name: `system:serviceaccount:${namespace}:${name}`,
  groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
});

async function inCluster(t: TestContext, ns: string, ds: any, kubelet: KubeletSide, dir: string, rbac: object[], hook: K8sObject[]): Promise<void> {
  const { kubectl } = await ensureKubeTools();
  const sa = ds.spec.template.spec.serviceAccountName as string;
  const user = `system:serviceaccount:${ds.metadata.namespace}:${sa}`;
  const hookUser = serviceAccountUser(ds.metadata.namespace, findObject(hook, 'ServiceAccount').metadata.name);
  t.diagnostic(`API server: ${envtestConfigured() ? 'kube-apiserver from KUBEBUILDER_ASSETS' : 'the in-process test server'}`);
  const api = await serveApiIn(ns, [serviceAccountUser(ds.metadata.namespace, sa), hookUser]);
  const token = api.served.tokens[user]!;
  let agent: Container | null = null;
  try {
    const admin = writeKubeconfig({ server: api.served.url, token: api.served.adminToken, user: 'admin', dir, caData: api.served.caData });
    const k = async (args: string[], input?: string) => {
      const r: CommandResult = await execIn(ns, kubectl, ['--kubeconfig', admin, ...args], input === undefined ? {} : { input });
      assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    for (const f of (await readdir(CRDS)).filter((f) => f.endsWith('.yaml'))) await k(['apply', '-f', join(CRDS, f)]);
    await until('CRDs served', async () => ((await execIn(ns, kubectl, ['--kubeconfig', admin, 'get', 'ctpol'])).code === 0 ? true : undefined));
    await k(['apply', '-f', '-'], dump({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/os': 'linux' } } }));
    await k(['apply', '-f', '-'], POLICY);

    // What the kubelet gives every pod: the service account token volume and the API's address.
    const podSide = async (account: string, accountToken: string): Promise<Pick<KubeletSide, 'extraEnv' | 'extraMounts'>> => {
      const saDir = join(dir, `serviceaccount-${account}`);
      await mkdir(saDir);
      await writeFile(join(saDir, 'token'), accountToken);
      await writeFile(join(saDir, 'ca.crt'), Buffer.from(api.served.caData, 'base64'));
      await writeFile(join(saDir, 'namespace'), ds.metadata.namespace);
      const url = new URL(api.served.url);
      return {
        extraEnv: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port },
        extraMounts: [{ source: saDir, target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
      };
    };
    const side: KubeletSide = { ...withStateDir(ds, kubelet, join(dir, 'state-cluster')), ...(await podSide(sa, token)) };
    const run = podmanRunOptions(ds, side);
    await prepareHostPaths(run.hostPaths);
    const before = await netfilterValues(ns);
    const name = `ctop-image-cluster-${process.pid}`;
    const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    agent = await startContainer(name, run.options, run.args);
    // Before its RBAC exists every call is refused: not ready, and /readyz says why.
    const refused = await until(
      '/readyz 503: policies not known',
      async () => {
        const r = await httpGet(ns, run.readiness.port, run.readiness.path);
        return r.status === 503 && /policies are not known/.test(r.body) ? r : undefined;
      },
      60_000,
    );
    t.diagnostic(`before the RBAC: ${run.readiness.path} ${refused.status} ${refused.body.trim()}`);
    await k(['apply', '-f', '-'], rbac.map((o) => dump(o)).join('---\n'));
    const status = await appliedStatusIn(ns, kubectl, admin, NODE, 60_000).catch(async (err: unknown) => {
      throw new Error(`${String(err)}\n${await agent!.logs()}`);
    });
    assert.equal(status.status.appliedPolicy.name, 'image-test');
    await readyWithin(ns, run, agent);
    t.diagnostic(`in-cluster: agent RSS in the container ${Math.round((await rssKiB(name)) / 1024)} MiB`);

    // The agent's Pod object, as the DaemonSet controller and the kubelet would have left it; without the
    // priority class, which a real server's Priority admission would look up and this test does not install.
    await k(['create', 'namespace', ds.metadata.namespace]);
    const { priorityClassName: _unused, ...podSpec } = ds.spec.template.spec;
    const agentPod = (podName: string, nodeName: string) =>
      dump({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: podName, namespace: ds.metadata.namespace, labels: ds.spec.template.metadata.labels },
        spec: { ...podSpec, nodeName },
      });
    const podName = `${ds.metadata.name}-${NODE}`;
    await k(['apply', '-f', '-'], agentPod(podName, NODE));
    await k([
      'patch',
      'pod',
      podName,
      '-n',
      ds.metadata.namespace,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { phase: 'Running', startTime: startedAt } }),
    ]);
    await t.test('kubectl conntrack doctor NODE: doctor runs in the agent container (kubectl exec played by podman exec)', () =>
      pluginDoctor(ns, admin, ds.metadata.namespace, podName, name, dir),
    );
    await t.test(
      "helm test's hook pod, run from the image under its own ServiceAccount: passes on a Ready agent, fails naming a node without one",
      async () => {
        await k(
          ['apply', '-f', '-'],
          hook
            .filter((o) => o.kind !== 'Pod')
            .map((o) => dump(o))
            .join('---\n'),
        );
        const hookPod = findObject(hook, 'Pod');
        const hookRun = podRunOptions(hookPod.spec, {
          netnsPath: kubelet.netnsPath,
          nodeName: NODE,
          ...(await podSide(hookPod.spec.serviceAccountName, api.served.tokens[hookUser.name]!)),
        });
        const runHook = () => runner.run(PODMAN, ['run', '--rm', ...hookRun.options, TAG, ...hookRun.args], { timeoutMs: 120_000 });
        const passed = await runHook();
        assert.equal(passed.code, 0, `${passed.stdout}${passed.stderr}`);
        assert.match(passed.stdout, new RegExp(`^${NODE} .* True `, 'm'));
        assert.match(passed.stdout, /READY: all 1 agent node\(s\)\n$/);
        await k(['apply', '-f', '-'], agentPod(`${ds.metadata.name}-silent`, 'silent-node'));
        const failed = await runHook();
        assert.equal(failed.code, 2, `${failed.stdout}${failed.stderr}`);
        assert.match(failed.stdout, /node silent-node: no ConntrackStatus: its agent has not reported/);
        assert.match(failed.stdout, /NOT READY: 1 of 2 agent node\(s\)\n$/);
      },
    );

    await k(['delete', 'ctpol', 'image-test']);
    await until(
      'every value restored after the policy was deleted',
      async () => (isDeepStrictEqual(await netfilterValues(ns), before) ? true : undefined),
      30_000,
    );
    assert.equal(await agent.stop(), 0);
    agent = null;
  } finally {
    if (agent) await runner.run(PODMAN, ['rm', '--force', agent.name]);
    await api.stop();
  }
}

/**
 * `kubectl conntrack doctor NODE` from the test (in the namespace, where the API server listens), with a
 * kubectl whose `exec` is podman's into the agent's container: the pod lookup goes to the API server, the
 * command the plugin builds runs in the agent container as built, and doctor reads the node through /host/proc.
 */
async function pluginDoctor(ns: string, kubeconfig: string, namespace: string, podName: string, container: string, dir: string): Promise<void> {
  const shim = join(dir, 'kubectl-exec-by-podman');
  await writeFile(
    shim,
    `#!/bin/sh
# kubectl [--kubeconfig F] [--context C] exec --namespace NS POD --container C -- CMD...: podman exec of the pod's container.
args="$*"
case "$args" in *"exec --namespace ${namespace} ${podName} --container agent -- "*) ;; *) echo "unexpected kubectl $args" >&2; exit 97 ;; esac
while [ "$1" != "--" ]; do shift; done
shift
# podman in this test's mount namespace: ip netns exec mounts a /sys of its own, without the cgroups runc joins.
exec nsenter --mount=/proc/${process.pid}/ns/mnt ${PODMAN} exec ${container} "$@"
`,
    { mode: 0o755 },
  );
  const r = await execIn(
    ns,
    process.execPath,
    ['--import', 'tsx', MAIN, 'kubectl', 'doctor', NODE, '--kubeconfig', kubeconfig, '-n', namespace, '--kubectl', shim, '-o', 'json', '--sample', '0'],
    {
      timeoutMs: 120_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  const doctor = JSON.parse(r.stdout) as { kernel: { netnsInode: number; hostNetworkNamespace: boolean }; unreadable: Array<{ path: string }> };
  assert.equal(doctor.kernel.netnsInode, statSync(`/run/netns/${ns}`).ino, "the node's (the test namespace's) table, seen from the agent container");
  assert.equal(doctor.kernel.hostNetworkNamespace, false);
  assert.deepEqual(
    doctor.unreadable.filter((u) => !refusedOnHostToo(u.path)),
    [],
  );
}

test('the image, run as the DaemonSet runs it', { skip: skipReason(), timeout: 25 * 60_000 }, async (t) => {
  const started = Date.now();
  await ok(BUILD, [TAG], 20 * 60_000);
  const size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', TAG])).trim());
  t.diagnostic(`image ${TAG}: ${(size / 1e6).toFixed(0)} MB, base + build ${((Date.now() - started) / 1000).toFixed(0)} s`);

  const rendered = await renderChart();
  const ds = daemonSetOf(rendered.text);
  const hook = (await renderChart([], ['--show-only', 'templates/tests/agents-ready.yaml'], undefined, { tests: true })).objects;
  const rbac = [componentObject(rendered.objects, 'ClusterRole', 'agent'), componentObject(rendered.objects, 'ClusterRoleBinding', 'agent')];
  const dir = await mkdtemp(join(tmpdir(), 'ctop-image-'));
  try {
    await withNetns('image', async (ns) => {
      // The namespace stands for the node; its loopback for the node's address (the host-network pod's IP).
      const kubelet = withStateDir(ds, { netnsPath: `/run/netns/${ns}`, nodeName: NODE, podIP: '127.0.0.1' }, join(dir, 'state'));
      const pod = podmanRunOptions(ds, kubelet);
      await prepareHostPaths(pod.hostPaths);

      await t.test("doctor --json reads the namespace's own table through /host/proc", async () => {
        await execInOk(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=123']);
        const before = namespacesOnHost();
        const out = await podman(['run', '--rm', ...pod.options, TAG, 'doctor', '--json', ...rootFlags(pod).filter((f) => !f.startsWith('--state-dir'))]);
        const after = namespacesOnHost();
        const doctor = JSON.parse(out) as {
          nodeWide: { namespaces: number; namespacesUnread: number; processesUnread: number } | null;
          kernel: { netnsInode: number; hostNetworkNamespace: boolean };
          table: { count: number };
          timeouts: Array<{ key: string; seconds: number }>;
          unreadable: Array<{ path: string; code?: string }>;
        };
        assert.equal(doctor.kernel.netnsInode, statSync(`/run/netns/${ns}`).ino, "the test namespace's inode");
        assert.equal(doctor.kernel.hostNetworkNamespace, false);
        assert.equal(doctor.timeouts.find((x) => x.key === 'nf_conntrack_udp_timeout')?.seconds, 123);
        // Without SYS_PTRACE the census still counts every namespace: at least those that lived through the run
        // (others come and go on a busy machine), none left unread.
        const lived = [...before].filter((k) => after.has(k)).length;
        const w = doctor.nodeWide!;
        assert.deepEqual([w.namespacesUnread, w.processesUnread], [0, 0], JSON.stringify(w));
        assert.ok(w.namespaces >= lived && w.namespaces <= before.size + after.size, `${w.namespaces} namespaces; ${lived} lived through the run`);
        t.diagnostic(`census in the pod: ${w.namespaces} namespaces (root on the host: ${before.size} before, ${after.size} after)`);
        // With the pod's capabilities, doctor reads all that root on the host can: the only
        // refusals allowed are namespace links the host's root is refused too (here pid 1,
        // the sandbox's own init, refuses everyone).
        assert.deepEqual(
          doctor.unreadable.filter((u) => !refusedOnHostToo(u.path)),
          [],
        );
        await execInOk(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_udp_timeout=30']);
      });
      await t.test('/dev/kmsg: EPERM in the unprivileged pod, whatever its capabilities (so the chart mounts it only for a privileged agent)', async () => {
        const open = ['--entrypoint=node', TAG, '-e', "require('fs').closeSync(require('fs').openSync('/dev/kmsg', 'r'))"];
        const refused = await runner.run(PODMAN, ['run', '--rm', ...pod.options, '--volume=/dev/kmsg:/dev/kmsg:ro', '--cap-add=SYSLOG', ...open]);
        assert.notEqual(refused.code, 0);
        assert.match(refused.stderr, /EPERM: operation not permitted, open '\/dev\/kmsg'/);
        const privileged = podmanRunOptions(daemonSetOf((await renderChart(['kmsg.enabled=true', 'agent.privileged=true'])).text), kubelet);
        await prepareHostPaths(privileged.hostPaths);
        const opened = await runner.run(PODMAN, ['run', '--rm', ...privileged.options, ...open]);
        assert.equal(opened.code, 0, opened.stderr);
      });
      for (const backend of ['iptables-nft', 'nftables']) {
        await t.test(`standalone agent, ${backend}: applies, probes answer, a restart keeps the baseline, restore puts it all back`, (st) =>
          standaloneAgent(st, ns, ds, kubelet, dir, backend),
        );
      }
      await t.test("in-cluster: the agent reaches the API server with a token bound to the chart's RBAC and publishes its ConntrackStatus", (st) =>
        inCluster(st, ns, ds, kubelet, dir, rbac, hook),
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  t.diagnostic(`whole run ${((Date.now() - started) / 1000).toFixed(0)} s`);
});

// What the rendered agent DaemonSet is allowed to do on the node: the least
// privilege the agent's work needs, and only what the values opt into.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { findObject, renderChart, type K8sObject } from './render.js';

interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}

async function agentPod(sets: string[] = []): Promise<{ spec: Record<string, any>; container: Record<string, any> }> {
  const ds: K8sObject = findObject((await renderChart(sets)).objects, 'DaemonSet');
  const spec = ds.spec.template.spec;
  assert.equal(spec.containers.length, 1);
  return { spec, container: spec.containers[0] };
}

/** mountPath -> host path, for the mounts that are not read-only. */
function writableMounts(spec: Record<string, any>, container: Record<string, any>): Record<string, string> {
  const volumes = new Map<string, any>(spec.volumes.map((v: any) => [v.name, v]));
  const out: Record<string, string> = {};
  for (const m of container.volumeMounts as Mount[]) {
    if (m.readOnly) continue;
    const v = volumes.get(m.name);
    out[m.mountPath] = v.hostPath ? v.hostPath.path : Object.keys(v).find((k) => k !== 'name')!;
  }
  return out;
}

test('default values: host network, least privilege, a high priority that installs in any namespace, every node', async () => {
  const { spec, container } = await agentPod();
  assert.equal(spec.hostNetwork, true);
  const objects = (await renderChart()).objects;
  const priorityClass = findObject(objects, 'PriorityClass');
  assert.equal(spec.priorityClassName, priorityClass.metadata.name);
  assert.ok(priorityClass.value > 0 && priorityClass.value <= 1_000_000_000, 'a user class: no system-* quota restriction applies');
  assert.deepEqual(spec.tolerations, [{ operator: 'Exists' }]);
  assert.equal(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
  const sc = container.securityContext;
  assert.equal(sc.privileged, false);
  assert.equal(sc.allowPrivilegeEscalation, false);
  assert.equal(sc.readOnlyRootFilesystem, true);
  assert.deepEqual(sc.capabilities.drop, ['ALL']);
  // auto may pick iptables-legacy, whose raw socket needs NET_RAW; kmsg is off by default. No SYS_PTRACE: the
  // namespace census needs no ptrace rights (it would also let the agent read any process's memory).
  assert.deepEqual(sc.capabilities.add, ['NET_ADMIN', 'NET_RAW']);
  assert.ok(spec.terminationGracePeriodSeconds >= 10);
});

test('capabilities follow the backend', async () => {
  const cases: { sets: string[]; add: string[] }[] = [
    { sets: ['agent.notrackBackend=iptables-nft'], add: ['NET_ADMIN'] },
    { sets: ['agent.notrackBackend=nftables'], add: ['NET_ADMIN'] },
    { sets: ['agent.notrackBackend=iptables-legacy'], add: ['NET_ADMIN', 'NET_RAW'] },
  ];
  for (const c of cases) {
    const { container } = await agentPod(c.sets);
    assert.deepEqual(container.securityContext.capabilities.add, c.add, c.sets.join(' '));
  }
});

test('privileged only when agent.privileged is set', async () => {
  const { container } = await agentPod(['agent.privileged=true']);
  assert.equal(container.securityContext.privileged, true);
  // The API refuses allowPrivilegeEscalation: false together with privileged: true.
  assert.equal(container.securityContext.allowPrivilegeEscalation, undefined);
});

test('writable mounts: exactly the netfilter sysctls, the state dir, the xtables lock and /tmp', async () => {
  const { spec, container } = await agentPod();
  assert.deepEqual(writableMounts(spec, container), {
    '/host/proc/sys/net/netfilter': '/proc/sys/net/netfilter',
    '/var/lib/conntrack-operator': '/var/lib/conntrack-operator',
    '/run/xtables.lock': '/run/xtables.lock',
    '/tmp': 'emptyDir',
  });
  const readOnly = (container.volumeMounts as Mount[])
    .filter((m) => m.readOnly)
    .map((m) => m.mountPath)
    .sort();
  assert.deepEqual(readOnly, ['/host/proc', '/host/sys/module']);
  // hostPath mounts are recursive binds: read-only must reach the host's submounts too.
  const recursive = (container.volumeMounts as (Mount & { recursiveReadOnly?: string })[]).filter((m) => m.recursiveReadOnly === 'IfPossible');
  assert.deepEqual(recursive.map((m) => m.mountPath).sort(), ['/host/proc', '/host/sys/module']);
  const types = Object.fromEntries(spec.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.hostPath.path, v.hostPath.type]));
  assert.equal(types['/var/lib/conntrack-operator'], 'DirectoryOrCreate');
  assert.equal(types['/run/xtables.lock'], 'FileOrCreate');
});

test('recursiveReadOnly only where the API knows it (Kubernetes >= 1.30)', async () => {
  const ds = findObject((await renderChart([], ['--kube-version', '1.29.0'])).objects, 'DaemonSet');
  assert.ok(ds.spec.template.spec.containers[0].volumeMounts.every((m: any) => m.recursiveReadOnly === undefined));
});

test('writableHashsize makes /sys/module writable, a path every node has (the module need not be loaded)', async () => {
  const { spec, container } = await agentPod(['agent.writableHashsize=true']);
  assert.equal(writableMounts(spec, container)['/host/sys/module'], '/sys/module');
  const hostPaths = spec.volumes.filter((v: any) => v.hostPath).map((v: any) => v.hostPath.path);
  assert.ok(!hostPaths.some((p: string) => p.startsWith('/sys/module/nf_conntrack')), 'no mount source that exists only while nf_conntrack is loaded');
  assert.equal(spec.volumes.length, container.volumeMounts.length, 'no volume left without a mount');
});

test('/dev/kmsg: only as an opt-in of a privileged agent (the device cgroup refuses it otherwise)', async () => {
  await assert.rejects(renderChart(['kmsg.enabled=true']), /kmsg\.enabled needs agent\.privileged=true/);
  const { spec, container } = await agentPod(['kmsg.enabled=true', 'agent.privileged=true']);
  const kmsg = (container.volumeMounts as Mount[]).find((m) => m.mountPath === '/dev/kmsg');
  assert.deepEqual(kmsg && { readOnly: kmsg.readOnly }, { readOnly: true });
  assert.equal(spec.volumes.find((v: any) => v.name === kmsg!.name).hostPath.type, 'CharDevice');
  assert.equal(container.securityContext.privileged, true);
});

test('NODE_NAME and POD_IP from the downward API, the documented flags, probes on /healthz and /readyz of the loopback', async () => {
  const { container } = await agentPod(['agent.serviceCidrs={10.96.0.0/12,fd00:96::/112}', 'agent.dryRun=true', 'agent.interval=45s']);
  assert.deepEqual(container.env, [
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ]);
  assert.deepEqual(container.args, [
    'agent',
    '--kubernetes',
    '--proc-root=/host/proc',
    '--sys-root=/host/sys',
    '--state-dir=/var/lib/conntrack-operator',
    '--metrics-addr=[$(POD_IP)]:9753',
    '--health-addr=127.0.0.1:9755',
    '--interval=45s',
    '--notrack-backend=auto',
    '--log-level=info',
    '--service-cidr=10.96.0.0/12,fd00:96::/112',
    '--dry-run',
  ]);
  // The kubelet probes the host network's loopback, where the health port listens; nothing else reaches it.
  assert.deepEqual(container.livenessProbe.httpGet, { host: '127.0.0.1', path: '/healthz', port: 'health' });
  assert.deepEqual(container.readinessProbe.httpGet, { host: '127.0.0.1', path: '/readyz', port: 'health' });
  assert.deepEqual(container.ports, [
    { name: 'metrics', containerPort: 9753, protocol: 'TCP' },
    { name: 'health', containerPort: 9755, protocol: 'TCP' },
  ]);
  assert.ok(container.resources.requests.memory && container.resources.limits.memory);
});

test("the agent's and the controller's args parse with the binary's own flag parser", async () => {
  const { objects } = await renderChart(['agent.serviceCidrs={10.96.0.0/12}', 'agent.podCidrs={10.244.0.0/16}', 'agent.dryRun=true']);
  // The kubelet expands $(POD_IP) from the container's env before exec.
  const args = (findObject(objects, 'DaemonSet').spec.template.spec.containers[0].args as string[]).map((a) => a.replace('$(POD_IP)', '192.0.2.7'));
  const agent = loadConfig(args, { NODE_NAME: 'node-1' }, 'host');
  assert.equal(agent.command, 'agent');
  assert.equal(agent.kubernetes, true);
  assert.equal(agent.nodeName, 'node-1');
  assert.equal(agent.procRoot, '/host/proc');
  assert.equal(agent.intervalMs, 30_000);
  assert.deepEqual([agent.metrics, agent.health, agent.metricsSecure], [{ host: '192.0.2.7', port: 9753 }, { host: '127.0.0.1', port: 9755 }, false]);
  assert.deepEqual([agent.serviceCidrs, agent.podCidrs, agent.dryRun], [['10.96.0.0/12'], ['10.244.0.0/16'], true]);

  // The kubelet expands $(POD_NAMESPACE) from the container's env before exec.
  const container = findObject(objects, 'Deployment').spec.template.spec.containers[0];
  const controllerArgs = (container.args as string[]).map((a) => a.replace('$(POD_NAMESPACE)', 'conntrack-system'));
  const controller = loadConfig(controllerArgs, { POD_NAME: 'controller-abc', POD_NAMESPACE: 'conntrack-system' }, 'host');
  assert.equal(controller.command, 'controller');
  assert.equal(controller.leaderElect, true);
  assert.equal(controller.leaseNamespace, 'conntrack-system');
  assert.equal(controller.identity, 'controller-abc');
  assert.deepEqual(
    [controller.metrics, controller.health],
    [
      { host: '0.0.0.0', port: 9754 },
      { host: '0.0.0.0', port: 9755 },
    ],
  );
  assert.deepEqual(
    container.env.map((e: any) => [e.name, e.valueFrom.fieldRef.fieldPath]),
    [
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ],
  );
});

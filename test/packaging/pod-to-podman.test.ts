// scripts/image/pod-to-podman.ts: the rendered agent DaemonSet as podman
// options (what test:image runs), and a clear error for what it cannot say.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonSetOf, podmanRunOptions, podRunOptions, type KubeletSide } from '../../scripts/image/pod-to-podman.js';
import { findObject, renderChart } from './render.js';

const KUBELET: KubeletSide = {
  netnsPath: '/run/netns/n1',
  nodeName: 'node-1',
  podIP: '192.0.2.7',
  hostPathOverrides: { '/var/lib/conntrack-operator': '/tmp/state' },
};

test('default values: the security context, mounts, env, limits and probes of the pod', async () => {
  const run = podmanRunOptions(daemonSetOf((await renderChart()).text), KUBELET);
  assert.deepEqual(run.options, [
    '--network=ns:/run/netns/n1',
    '--security-opt=no-new-privileges',
    '--user=0',
    '--read-only',
    '--read-only-tmpfs=false',
    '--cap-drop=ALL',
    '--cap-add=NET_ADMIN',
    '--cap-add=NET_RAW',
    '--env=NODE_NAME=node-1',
    '--env=POD_IP=192.0.2.7',
    '--volume=/proc:/host/proc:ro',
    '--volume=/proc/sys/net/netfilter:/host/proc/sys/net/netfilter:rw',
    '--volume=/sys/module:/host/sys/module:ro',
    '--volume=/tmp/state:/var/lib/conntrack-operator:rw',
    '--volume=/run/xtables.lock:/run/xtables.lock:rw',
    '--mount=type=tmpfs,destination=/tmp,tmpfs-size=64m',
    '--memory=192m',
    '--stop-timeout=30',
  ]);
  assert.equal(run.args[0], 'agent');
  assert.ok(run.args.includes('--kubernetes'));
  // $(POD_IP) expanded as the kubelet does.
  assert.ok(run.args.includes('--metrics-addr=[192.0.2.7]:9753'), run.args.join(' '));
  assert.deepEqual(run.ports, { metrics: 9753, health: 9755 });
  assert.deepEqual(
    run.hostPaths.find((h) => h.path === '/tmp/state'),
    { path: '/tmp/state', type: 'DirectoryOrCreate' },
  );
  assert.deepEqual(
    [run.liveness, run.readiness],
    [
      { path: '/healthz', port: 9755, host: '127.0.0.1' },
      { path: '/readyz', port: 9755, host: '127.0.0.1' },
    ],
  );
});

test('privileged with kmsg: --privileged with every capability (as containerd), /dev/kmsg read-only; kubelet extras appended', async () => {
  const ds = daemonSetOf((await renderChart(['agent.privileged=true', 'kmsg.enabled=true'])).text);
  const run = podmanRunOptions(ds, {
    ...KUBELET,
    extraEnv: { KUBERNETES_SERVICE_HOST: '127.0.0.1' },
    extraMounts: [{ source: '/tmp/sa', target: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
  });
  assert.ok(run.options.includes('--privileged'));
  assert.ok(!run.options.includes('--security-opt=no-new-privileges'));
  assert.deepEqual(
    run.options.filter((o) => o.startsWith('--cap-')),
    [],
  );
  assert.ok(run.options.includes('--volume=/dev/kmsg:/dev/kmsg:ro'));
  assert.ok(run.options.includes('--env=KUBERNETES_SERVICE_HOST=127.0.0.1'));
  assert.ok(run.options.includes('--volume=/tmp/sa:/var/run/secrets/kubernetes.io/serviceaccount:ro'));
});

test('what the translation cannot say is an error naming the field', async () => {
  const base = daemonSetOf((await renderChart()).text);
  const cases: Array<{ name: string; change: (pod: any) => void; error: RegExp }> = [
    { name: 'not host network', change: (pod) => (pod.hostNetwork = false), error: /hostNetwork: only host-network pods/ },
    {
      name: 'a configMap volume',
      change: (pod) => pod.volumes.push({ name: 'cfg', configMap: { name: 'x' } }) && pod.containers[0].volumeMounts.push({ name: 'cfg', mountPath: '/cfg' }),
      error: /volumes\[cfg\]: only hostPath and emptyDir/,
    },
    {
      name: 'a mount without its volume',
      change: (pod) => pod.containers[0].volumeMounts.push({ name: 'gone', mountPath: '/gone' }),
      error: /volumeMounts\[gone\]: no volume of that name/,
    },
    {
      name: 'an env fieldRef the kubelet side does not give',
      change: (pod) => pod.containers[0].env.push({ name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } }),
      error: /env\[HOST\]/,
    },
    { name: 'an exec probe', change: (pod) => (pod.containers[0].readinessProbe = { exec: { command: ['true'] } }), error: /readinessProbe: only httpGet/ },
    {
      name: 'a probe on a port that is not declared',
      change: (pod) => (pod.containers[0].livenessProbe.httpGet.port = 'web'),
      error: /livenessProbe\.httpGet\.port: "web" names no container port/,
    },
    {
      name: 'a memory limit in another unit',
      change: (pod) => (pod.containers[0].resources.limits.memory = '300M'),
      error: /resources\.limits\.memory: "300M"/,
    },
    {
      name: 'a localhost seccomp profile',
      change: (pod) => (pod.securityContext.seccompProfile = { type: 'Localhost', localhostProfile: 'x.json' }),
      error: /seccompProfile\.type: Localhost/,
    },
    { name: 'two containers', change: (pod) => pod.containers.push(pod.containers[0]), error: /exactly one container/ },
  ];
  for (const c of cases) {
    const ds = structuredClone(base);
    c.change(ds.spec.template.spec);
    assert.throws(() => podmanRunOptions(ds, KUBELET), c.error, c.name);
  }
  const { podIP: _, ...withoutPodIP } = KUBELET;
  assert.throws(() => podmanRunOptions(base, withoutPodIP), /env\[POD_IP\]/, 'status.podIP without the pod IP');
});

test("the helm test hook's pod: its own network to join, the pod's user for its container, no capabilities, its args", async () => {
  const { objects } = await renderChart([], ['--show-only', 'templates/tests/agents-ready.yaml'], undefined, { tests: true });
  const pod = findObject(objects, 'Pod');
  const run = podRunOptions(pod.spec, { netnsPath: '/run/netns/n1', nodeName: 'node-1' });
  assert.deepEqual(run.options, [
    '--network=ns:/run/netns/n1',
    '--security-opt=no-new-privileges',
    '--user=1000:1000',
    '--read-only',
    '--read-only-tmpfs=false',
    '--cap-drop=ALL',
    '--memory=160m',
  ]);
  assert.deepEqual(run.args.slice(0, 3), ['kubectl', 'status', '--check-ready']);
  const root = structuredClone(pod.spec);
  delete root.securityContext.runAsUser;
  assert.throws(() => podRunOptions(root, KUBELET), /containers\[agents-ready\]\.securityContext\.runAsNonRoot: needs a runAsUser other than 0/);
});

// scripts/image/pod-to-podman.ts: the rendered agent DaemonSet as podman
// options (what test:image runs), and a clear error for what it cannot say.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daemonSetOf, podmanRunOptions, type KubeletSide } from '../../scripts/image/pod-to-podman.js';
import { renderChart } from './render.js';

const KUBELET: KubeletSide = { netnsPath: '/run/netns/n1', nodeName: 'node-1', hostPathOverrides: { '/var/lib/conntrack-operator': '/tmp/state' } };

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
  assert.deepEqual(
    run.hostPaths.find((h) => h.path === '/tmp/state'),
    { path: '/tmp/state', type: 'DirectoryOrCreate' },
  );
  assert.deepEqual(
    [run.liveness, run.readiness],
    [
      { path: '/healthz', port: 9753 },
      { path: '/readyz', port: 9753 },
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
      change: (pod) => pod.containers[0].env.push({ name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }),
      error: /env\[IP\]/,
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
});

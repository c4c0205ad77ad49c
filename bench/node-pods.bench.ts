// Memory of the agent's cache of its node's pods: `node --expose-gc --import tsx bench/node-pods.bench.ts [pods]`.
// The test API server holds `pods` Pods on the node (default 110, the kubelet's
// default maximum) with a realistic spec, and as many on another node; the
// cache lists and watches them (fieldSelector spec.nodeName) and keeps only
// their identities. Prints the heap it retains, next to the JSON size of the
// pods it was sent, which a cache of whole objects would keep (and more: parsed
// objects take several times their JSON). Target: the agent stays < 90 MB RSS.
// With KUBEBUILDER_ASSETS a real kube-apiserver serves them from its own
// process; the in-process test server shares this heap, which blurs the figure.
// A single heap delta after gc: expect tens of KiB of noise (run it twice).
import { ClusterApi, loadKubeConfig } from '../src/kube/cluster-api.js';
import { NodePods } from '../src/kube/node-pods.js';
import { realTiming } from '../src/kube/reflector.js';
import { startApi } from '../test/support/kube/harness.js';
import { silentLog } from '../test/support/silent-log.js';

const N = Number(process.argv[2] ?? 110);
const print = (name: string, value: string | number) => process.stdout.write(`${name}: ${value}\n`);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc (npm run bench does)');

function podBody(name: string, node: string) {
  const env = Array.from({ length: 20 }, (_, i) => ({ name: `SETTING_${i}`, value: `value-${i}-${'x'.repeat(20)}` }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: 'bench',
      labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5' },
      annotations: { 'kubectl.kubernetes.io/restartedAt': '2026-01-01T00:00:00Z' },
    },
    spec: {
      nodeName: node,
      containers: [
        { name: 'app', image: 'registry.example/web:1.2.3', env, ports: [{ containerPort: 8080 }], resources: { requests: { cpu: '100m', memory: '128Mi' } } },
      ],
    },
  };
}

const api = await startApi();
try {
  await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench' } } });
  // kube-apiserver's ServiceAccount admission wants the pods' service account to exist.
  await api.request('POST', '/api/v1/namespaces/bench/serviceaccounts', { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } } });
  let sentBytes = 0;
  for (let i = 0; i < N; i++) {
    for (const node of ['bench-node', 'other-node']) {
      const r = await api.request('POST', '/api/v1/namespaces/bench/pods', { body: podBody(`${node}-${i}`, node) });
      if (r.status >= 300) throw new Error(`create pod: ${r.status} ${r.text}`);
      if (node === 'bench-node') sentBytes += Buffer.byteLength(JSON.stringify(r.body));
    }
  }
  const clusterApi = new ClusterApi(loadKubeConfig(api.kubeconfig()));
  // Warm the client (TLS, HTTP agent) so the figure below is the cache's own.
  await clusterApi.nodePodsListWatch('no-such-node').list('0');
  gc();
  const before = process.memoryUsage().heapUsed;
  const pods = new NodePods(clusterApi, 'bench-node', realTiming(), silentLog());
  const started = performance.now();
  pods.start();
  const uid = (await api.request('GET', '/api/v1/namespaces/bench/pods/bench-node-0')).body.metadata.uid as string;
  while (!pods.lookup(uid)) await new Promise((r) => setTimeout(r, 5));
  const listMs = performance.now() - started;
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  print('server', api.kind);
  print('pods on the node (and as many elsewhere)', N);
  print('first list until named, ms', listMs.toFixed(0));
  print('JSON of those pods as the API sent them, KiB', (sentBytes / 1024).toFixed(0));
  print('heap the running cache holds (store, index, open watch), KiB', (retained / 1024).toFixed(0));
  print('per pod, bytes', (retained / N).toFixed(0));
  await pods.stop();
} finally {
  await api.stop();
}

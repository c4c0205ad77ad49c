// metrics.secure as the chart renders it: the flags and certificate of both
// processes, the review grants in their roles, the role a scraper needs, and
// monitors that scrape over HTTPS with a token (test/kube-agent/secure-metrics
// runs the processes with these roles against the API servers).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config.js';
import { componentObject, findObject, NAMESPACE, renderChart, type K8sObject } from './render.js';

const SECURE = ['metrics.secure.enabled=true'];
const CERT = [...SECURE, 'metrics.secure.certSecret=conntrack-metrics-tls'];
const REVIEWS = ['authentication.k8s.io/tokenreviews create', 'authorization.k8s.io/subjectaccessreviews create'];

const podOf = (objects: K8sObject[], kind: 'DaemonSet' | 'Deployment') => findObject(objects, kind).spec.template.spec;
/** "group/resource verb" of every rule. */
const grants = (role: K8sObject) =>
  (role.rules as Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }>).flatMap((r) =>
    (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.map((v) => `${g}/${res} ${v}`))),
  );

test('off by default: plain HTTP, no review grants, no reader role', async () => {
  const { objects } = await renderChart(['metrics.serviceMonitor.enabled=true']);
  for (const kind of ['DaemonSet', 'Deployment'] as const)
    assert.ok(!podOf(objects, kind).containers[0].args.some((a: string) => a.startsWith('--metrics-secure')));
  for (const component of ['agent', 'controller']) {
    const role = grants(componentObject(objects, 'ClusterRole', component));
    for (const review of REVIEWS) assert.ok(!role.includes(review), `${component}: ${review}`);
  }
  assert.ok(!objects.some((o) => o.kind === 'ClusterRole' && o.metadata.name.endsWith('-metrics-reader')));
  const endpoint = findObject(objects, 'ServiceMonitor').spec.endpoints[0];
  assert.deepEqual([endpoint.scheme, endpoint.tlsConfig, endpoint.bearerTokenFile], [undefined, undefined, undefined]);
});

test('on: both processes serve securely and may review tokens and access; a scraper needs GET /metrics only', async () => {
  const { objects } = await renderChart(SECURE);
  for (const [kind, component] of [
    ['DaemonSet', 'agent'],
    ['Deployment', 'controller'],
  ] as const) {
    const args = (podOf(objects, kind).containers[0].args as string[]).map((a) =>
      a.replace(/\$\((\w+)\)/, (_, v: string) => ({ POD_IP: '192.0.2.7', POD_NAMESPACE: NAMESPACE })[v] ?? v),
    );
    assert.ok(args.includes('--metrics-secure') && !args.some((a) => a.startsWith('--metrics-cert-dir')), kind);
    const config = loadConfig(args, { NODE_NAME: 'n1', POD_NAME: 'p' }, 'h');
    assert.deepEqual([config.metricsSecure, config.metricsCertDir], [true, undefined], kind);
    const role = grants(componentObject(objects, 'ClusterRole', component));
    for (const review of REVIEWS) assert.ok(role.includes(review), `${component}: ${review}`);
  }
  const reader = findObject(objects, 'ClusterRole', 'ctop-conntrack-operator-metrics-reader');
  assert.deepEqual(reader.rules, [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
  assert.ok(!objects.some((o) => o.kind === 'Secret'), 'no token Secret without a PodMonitor');
});

test('certSecret: mounted in both pods and named to the binary; the monitors verify it under the agent Service name', async () => {
  const { objects } = await renderChart([...CERT, 'metrics.serviceMonitor.enabled=true']);
  for (const kind of ['DaemonSet', 'Deployment'] as const) {
    const pod = podOf(objects, kind);
    const mount = pod.containers[0].volumeMounts.find((m: any) => m.name === 'metrics-tls');
    assert.deepEqual(mount, { name: 'metrics-tls', mountPath: '/etc/conntrack-operator/metrics-tls', readOnly: true }, kind);
    assert.deepEqual(pod.volumes.find((v: any) => v.name === 'metrics-tls').secret, { secretName: 'conntrack-metrics-tls' }, kind);
    assert.ok(pod.containers[0].args.includes('--metrics-cert-dir=/etc/conntrack-operator/metrics-tls'), kind);
  }
  const agentService = objects.find((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/component'] === 'agent')!;
  const endpoint = findObject(objects, 'ServiceMonitor').spec.endpoints[0];
  assert.deepEqual(
    { scheme: endpoint.scheme, bearerTokenFile: endpoint.bearerTokenFile, tlsConfig: endpoint.tlsConfig },
    {
      scheme: 'https',
      bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token',
      tlsConfig: { ca: { secret: { name: 'conntrack-metrics-tls', key: 'ca.crt' } }, serverName: `${agentService.metadata.name}.${NAMESPACE}.svc` },
    },
  );
});

test('self-signed: the ServiceMonitor skips verification (the token still proves the scraper)', async () => {
  const endpoint = findObject((await renderChart([...SECURE, 'metrics.serviceMonitor.enabled=true'])).objects, 'ServiceMonitor').spec.endpoints[0];
  assert.deepEqual([endpoint.scheme, endpoint.tlsConfig], ['https', { insecureSkipVerify: true }]);
});

test("the PodMonitor sends the metrics reader's token, from a Secret the API server fills, bound to the reader role", async () => {
  const { objects } = await renderChart([...SECURE, 'metrics.podMonitor.enabled=true']);
  const endpoint = findObject(objects, 'PodMonitor').spec.podMetricsEndpoints[0];
  const secret = findObject(objects, 'Secret');
  assert.deepEqual(endpoint.authorization, { type: 'Bearer', credentials: { name: secret.metadata.name, key: 'token' } });
  assert.equal(secret.type, 'kubernetes.io/service-account-token');
  const account = findObject(objects, 'ServiceAccount', 'ctop-conntrack-operator-metrics-reader');
  assert.equal((secret.metadata as any).annotations['kubernetes.io/service-account.name'], account.metadata.name);
  const binding = findObject(objects, 'ClusterRoleBinding', 'ctop-conntrack-operator-metrics-reader');
  assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'ctop-conntrack-operator-metrics-reader' });
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account.metadata.name, namespace: NAMESPACE }]);
  // kubectl apply -f manifests/ creates in file order: the account before its token Secret.
  assert.ok(objects.indexOf(account) < objects.indexOf(secret));
});

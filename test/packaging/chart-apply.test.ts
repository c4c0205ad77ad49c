// The chart as a release publishes it (`helm package`): helm lint --strict,
// helm template and kubectl apply of every rendered object to an API server
// (the in-process test server, or a real one with KUBEBUILDER_ASSETS), for the
// default values and non-default ones, and a helm install of the package.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startApi } from '../support/kube/harness.js';
import { runHelm, runKubectl } from '../support/kube/tools.js';
import { CHART_DIR, NAMESPACE, RELEASE, packageChart, renderChart } from './render.js';

const MONITORING_CRDS = join(import.meta.dirname, 'fixtures', 'prometheus-operator-crds.yaml');
const MANIFESTS_DIR = join(import.meta.dirname, '..', '..', 'manifests');

const VARIANTS: { name: string; sets: string[] }[] = [
  { name: 'default values', sets: [] },
  {
    name: 'privileged agent, monitoring on with secure metrics and a certificate Secret, admission policy off',
    sets: [
      'agent.privileged=true',
      'metrics.secure.enabled=true',
      'metrics.secure.certSecret=conntrack-metrics-tls',
      'metrics.serviceMonitor.enabled=true',
      'metrics.prometheusRule.enabled=true',
      'metrics.dashboard.enabled=true',
      'admissionPolicy.enabled=false',
    ],
  },
  {
    name: 'nftables, no kmsg, no hashsize mount, dry run, CIDRs, no controller, no pod names, a PodMonitor with secure metrics',
    sets: [
      'agent.podNames=false',
      'metrics.secure.enabled=true',
      'metrics.podMonitor.enabled=true',
      'agent.notrackBackend=nftables',
      'kmsg.enabled=false',
      'agent.writableHashsize=false',
      'agent.dryRun=true',
      'agent.serviceCidrs={10.96.0.0/12}',
      'agent.podCidrs={10.244.0.0/16,fd00::/48}',
      'controller.enabled=false',
      'namespace.create=true',
    ],
  },
];

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
const packageDir = mkdtempSync(join(tmpdir(), 'ctop-chart-package-'));
after(() => rmSync(packageDir, { recursive: true, force: true }));
let packaged: Promise<string> | undefined;
/** The chart packaged once for this file. */
const chartPackage = () => (packaged ??= packageChart(packageDir));

function setArgs(sets: string[]): string[] {
  return sets.flatMap((s) => ['--set', s]);
}

describe('helm lint --strict', () => {
  for (const v of VARIANTS) {
    test(v.name, async () => {
      const r = await runHelm(['lint', '--strict', await chartPackage(), ...setArgs(v.sets)]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    });
  }
});

describe('every rendered object is accepted by the API server', () => {
  for (const v of VARIANTS) {
    test(v.name, async () => {
      const rendered = await renderChart(v.sets, [], undefined, { chart: await chartPackage() });
      const api = await startApi();
      try {
        const kubeconfig = api.kubeconfig();
        const kubectl = async (args: string[], input?: string) => {
          const r = await runKubectl(args, { kubeconfig, ...(input === undefined ? {} : { input }) });
          assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
          return r.stdout;
        };
        // As Helm does: the chart's crds/ first, and prometheus-operator's CRDs
        // as on a cluster that runs it.
        await kubectl(['apply', '-f', join(CHART_DIR, 'crds'), '-f', MONITORING_CRDS]);
        await kubectl(['wait', '--for=condition=Established', '--timeout=20s', 'crd', '--all']);
        if (!rendered.objects.some((o) => o.kind === 'Namespace')) await kubectl(['create', 'namespace', NAMESPACE]);

        const applied = await kubectl(['apply', '-f', '-'], rendered.text);
        assert.equal(
          applied
            .trim()
            .split('\n')
            .filter((l) => l.endsWith(' created')).length,
          rendered.objects.length,
          applied,
        );

        const stored = JSON.parse(await kubectl(['get', '-f', '-', '-o', 'json'], rendered.text)) as { items: { kind: string; metadata: { name: string } }[] };
        const names = (list: { kind: string; metadata: { name: string } }[]) => list.map((o) => `${o.kind}/${o.metadata.name}`).sort();
        assert.deepEqual(names(stored.items), names(rendered.objects));
      } finally {
        await api.stop();
      }
    });
  }
});

test('two releases install side by side: no object of one is an object of the other', async () => {
  const releases = [
    { name: RELEASE, namespace: NAMESPACE },
    { name: 'canary', namespace: 'conntrack-canary' },
  ];
  const api = await startApi();
  try {
    const kubeconfig = api.kubeconfig();
    const kubectl = async (args: string[], input?: string) => {
      const r = await runKubectl(args, { kubeconfig, ...(input === undefined ? {} : { input }) });
      assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    await kubectl(['apply', '-f', join(CHART_DIR, 'crds')]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=20s', 'crd', '--all']);
    for (const release of releases) {
      const rendered = await renderChart([], [], release);
      await kubectl(['create', 'namespace', release.namespace]);
      // Every object is new: an object the first release made would show as "configured" or "unchanged".
      const lines = (await kubectl(['apply', '-f', '-'], rendered.text)).trim().split('\n');
      assert.equal(lines.filter((l) => l.endsWith(' created')).length, rendered.objects.length, `${release.name}:\n${lines.join('\n')}`);
    }
  } finally {
    await api.stop();
  }
});

test("helm package names the package after package.json's version, and the package installs: deployed, every image tagged with that version", async () => {
  const pkg = await chartPackage();
  assert.equal(pkg, join(packageDir, `conntrack-operator-${VERSION}.tgz`));
  const api = await startApi();
  try {
    const kubeconfig = api.kubeconfig();
    const helm = await runHelm(['install', 'ctop', pkg, '--namespace', NAMESPACE, '--create-namespace'], { kubeconfig, timeoutMs: 120_000 });
    assert.equal(helm.code, 0, helm.stderr);
    assert.match(helm.stdout, /STATUS: deployed/);
    const list = await runHelm(['list', '--namespace', NAMESPACE, '-o', 'json'], { kubeconfig });
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as Array<{ name: string; chart: string; app_version: string; status: string }>).map(({ name, chart, app_version, status }) => ({
        name,
        chart,
        app_version,
        status,
      })),
      [{ name: 'ctop', chart: `conntrack-operator-${VERSION}`, app_version: VERSION, status: 'deployed' }],
    );
    const workloads = await runKubectl(['get', 'daemonsets,deployments', '--namespace', NAMESPACE, '-o', 'json'], { kubeconfig });
    assert.equal(workloads.code, 0, workloads.stderr);
    const images = (JSON.parse(workloads.stdout) as { items: Array<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }> }).items.flatMap(
      (w) => w.spec.template.spec.containers.map((c) => c.image),
    );
    assert.ok(images.length >= 2, `the agent and the controller: ${images.join(', ')}`);
    for (const image of images) assert.ok(image.endsWith(`:${VERSION}`), `${image}: not the package's version`);
  } finally {
    await api.stop();
  }
});

test('kubectl apply -f manifests/ works on a fresh cluster', async () => {
  const api = await startApi();
  try {
    const r = await runKubectl(['apply', '-f', MANIFESTS_DIR], { kubeconfig: api.kubeconfig() });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/conntrackstatuses\.conntrack\.io created/);
    assert.match(r.stdout, /namespace\/conntrack-operator created/);
    assert.match(r.stdout, /daemonset\.apps\/conntrack-operator-agent created/);
  } finally {
    await api.stop();
  }
});

test('the monitoring objects are switched by their values', async () => {
  const kinds = (objects: { kind: string }[]) => new Set(objects.map((o) => o.kind));
  const off = kinds((await renderChart()).objects);
  const on = kinds((await renderChart(VARIANTS[1]!.sets)).objects);
  for (const kind of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap']) {
    assert.ok(!off.has(kind), `${kind} rendered by default`);
    assert.ok(on.has(kind), `${kind} missing when enabled`);
  }
  assert.ok(off.has('ValidatingAdmissionPolicy') && off.has('ValidatingAdmissionPolicyBinding'));
  assert.ok(!on.has('ValidatingAdmissionPolicy') && !on.has('ValidatingAdmissionPolicyBinding'));
});

test('the admission policy is left out below Kubernetes 1.30, as the cluster cannot serve it', async () => {
  const { objects } = await renderChart([], ['--kube-version', '1.29.0']);
  assert.ok(!objects.some((o) => o.kind.startsWith('ValidatingAdmissionPolicy')));
  assert.ok(objects.some((o) => o.kind === 'DaemonSet'));
});

test('NOTES.txt renders and tells the user what to do next', async () => {
  const r = await runHelm(['install', 'ctop', await chartPackage(), '--namespace', NAMESPACE, '--dry-run=client', '--set', 'agent.dryRun=true']);
  assert.equal(r.code, 0, r.stderr);
  const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
  for (const step of ['kubectl apply -f examples/policy.yaml', 'kubectl get ctpol', 'kubectl get ctst', 'kubectl delete ctpol --all', 'agent.dryRun=true']) {
    assert.ok(notes.includes(step), `NOTES lack "${step}"`);
  }
  assert.ok(notes.includes(`kubectl -n ${NAMESPACE} get daemonset`));
});

// values.schema.json stops bad values at `helm install`/`helm template`, and
// the message names the value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHelm } from '../support/kube/tools.js';
import { CHART_DIR, NAMESPACE, renderChart } from './render.js';

async function templateFails(set: string): Promise<string> {
  const r = await runHelm(['template', 'ctop', CHART_DIR, '--set', set]);
  assert.notEqual(r.code, 0, `helm template --set ${set} should fail`);
  return r.stderr;
}

const BAD: { set: string; names: RegExp }[] = [
  { set: 'agent.interval=-30s', names: /\/agent\/interval.*-30s/ },
  { set: 'agent.interval=-30', names: /\/agent\/interval/ },
  { set: 'agent.interval=1500ms', names: /\/agent\/interval/ },
  { set: 'agent.interval=soon', names: /\/agent\/interval/ },
  { set: 'agent.notrackBackend=ipvs', names: /\/agent\/notrackBackend.*'auto', 'iptables-nft', 'iptables-legacy', 'nftables'/ },
  { set: 'agent.logLevel=verbose', names: /\/agent\/logLevel/ },
  { set: 'agent.metricsPort=70000', names: /\/agent\/metricsPort/ },
  { set: 'agent.serviceCidrs={10.96.0/12}', names: /\/agent\/serviceCidrs\/0/ },
  { set: 'agent.stateDir=relative/dir', names: /\/agent\/stateDir/ },
  { set: 'agent.intreval=30s', names: /\/agent.*'intreval' not allowed/ },
  { set: 'controller.replicas=0', names: /\/controller\/replicas/ },
  { set: 'metrics.prometheusRule.fillingUpHorizonSeconds=30', names: /\/metrics\/prometheusRule\/fillingUpHorizonSeconds/ },
  // Gone: the alert follows each node's own policy threshold (conntrack_operator_pressure_critical_ratio).
  { set: 'metrics.prometheusRule.nearlyFullRatio=0.8', names: /\/metrics\/prometheusRule.*'nearlyFullRatio' not allowed/ },
  { set: 'metrics.prometheusRule.driftFor=half-an-hour', names: /\/metrics\/prometheusRule\/driftFor/ },
];

for (const bad of BAD) {
  test(`--set ${bad.set} is refused, naming the value`, async () => {
    assert.match(await templateFails(bad.set), bad.names);
  });
}

const GOOD = ['agent.interval=1m30s', 'agent.interval=5m', 'agent.interval=90', 'agent.notrackBackend=iptables-legacy', 'agent.podCidrs={fd00::/48}'];

for (const good of GOOD) {
  test(`--set ${good} passes the schema`, async () => {
    const { objects } = await renderChart([good]);
    assert.ok(objects.some((o) => o.kind === 'DaemonSet'));
  });
}

const DIGEST = `sha256:${'a'.repeat(64)}`;

const BAD_NEW: { set: string; names: RegExp }[] = [
  { set: 'agent.serviceAccount.nmae=x', names: /\/agent\/serviceAccount.*'nmae' not allowed/ },
  { set: 'serviceAccount.create=false', names: /'serviceAccount' not allowed/ },
  { set: 'image.digest=latest', names: /\/image\/digest/ },
  { set: 'agent.extraArgs={debug}', names: /\/agent\/extraArgs\/0/ },
  { set: 'controller.podDisruptionBudget.maxUnavailble=1', names: /\/controller\/podDisruptionBudget.*'maxUnavailble' not allowed/ },
  { set: 'metrics.serviceMonitor.relabeling[0].targetLabel=x', names: /\/metrics\/serviceMonitor.*'relabeling' not allowed/ },
  { set: 'agent.priorityClass.value=3000000000', names: /\/agent\/priorityClass\/value/ },
];

for (const bad of BAD_NEW) {
  test(`--set ${bad.set} is refused, naming the value`, async () => {
    assert.match(await templateFails(bad.set), bad.names);
  });
}

const agentOf = (objects: Awaited<ReturnType<typeof renderChart>>['objects']) => objects.find((o) => o.kind === 'DaemonSet')!;
const controllerOf = (objects: Awaited<ReturnType<typeof renderChart>>['objects']) => objects.find((o) => o.kind === 'Deployment')!;

// helm template with each escape hatch, and what it changes in the rendered objects.
const HATCHES: { name: string; sets: string[]; check: (objects: Awaited<ReturnType<typeof renderChart>>['objects']) => void }[] = [
  {
    name: 'image.digest pins both containers by digest',
    sets: [`image.digest=${DIGEST}`],
    check: (o) => {
      for (const w of [agentOf(o), controllerOf(o)])
        assert.equal(w.spec.template.spec.containers[0].image, `ghcr.io/conntrack-operator/conntrack-operator@${DIGEST}`);
    },
  },
  {
    name: 'commonLabels on every object and pod',
    sets: ['commonLabels.team=net'],
    check: (o) => {
      for (const obj of o) assert.equal(obj.metadata.labels?.team, 'net', `${obj.kind} ${obj.metadata.name}`);
      for (const w of [agentOf(o), controllerOf(o)]) assert.equal(w.spec.template.metadata.labels.team, 'net');
    },
  },
  {
    name: 'extraArgs appended to each command line',
    sets: ['agent.extraArgs={--log-level=debug}', 'controller.extraArgs={--log-level=trace}'],
    check: (o) => {
      assert.equal(agentOf(o).spec.template.spec.containers[0].args.at(-1), '--log-level=debug');
      assert.equal(controllerOf(o).spec.template.spec.containers[0].args.at(-1), '--log-level=trace');
    },
  },
  {
    name: 'a container securityContext merged over the computed one',
    sets: ['agent.containerSecurityContext.seLinuxOptions.type=spc_t', 'controller.containerSecurityContext.runAsGroup=2000'],
    check: (o) => {
      const agent = agentOf(o).spec.template.spec.containers[0].securityContext;
      assert.deepEqual(agent.seLinuxOptions, { type: 'spc_t' });
      assert.deepEqual(agent.capabilities.drop, ['ALL'], 'the computed fields stay');
      assert.equal(controllerOf(o).spec.template.spec.containers[0].securityContext.runAsGroup, 2000);
    },
  },
  {
    name: 'a ServiceAccount of your own: none created, the bindings and the admission policy name it',
    sets: ['agent.serviceAccount.create=false', 'agent.serviceAccount.name=node-agent', 'controller.serviceAccount.annotations.team=net'],
    check: (o) => {
      assert.equal(agentOf(o).spec.template.spec.serviceAccountName, 'node-agent');
      const accounts = o.filter((x) => x.kind === 'ServiceAccount');
      assert.deepEqual(
        accounts.map((a) => a.metadata.name),
        ['ctop-conntrack-operator-controller'],
      );
      assert.equal((accounts[0]!.metadata as { annotations?: Record<string, string> }).annotations?.team, 'net');
      const binding = o.find((x) => x.kind === 'ClusterRoleBinding' && x.roleRef.name === 'ctop-conntrack-operator-agent')!;
      assert.equal(binding.subjects[0].name, 'node-agent');
      assert.match(JSON.stringify(o.filter((x) => x.kind === 'ValidatingAdmissionPolicy')), new RegExp(`system:serviceaccount:${NAMESPACE}:node-agent'`));
    },
  },
  {
    name: 'priorityClassName given: no PriorityClass of ours',
    sets: ['agent.priorityClassName=system-node-critical'],
    check: (o) => {
      assert.equal(agentOf(o).spec.template.spec.priorityClassName, 'system-node-critical');
      assert.ok(!o.some((x) => x.kind === 'PriorityClass'));
    },
  },
  {
    name: 'the controller: a PDB and replicas spread over nodes by default, your affinity instead when given',
    sets: [
      'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].key=pool',
      'controller.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator=Exists',
    ],
    check: (o) => {
      assert.equal(controllerOf(o).spec.template.spec.affinity.podAntiAffinity, undefined);
      const pdb = o.find((x) => x.kind === 'PodDisruptionBudget')!;
      assert.equal(pdb.spec.maxUnavailable, 1);
      assert.deepEqual(pdb.spec.selector.matchLabels, controllerOf(o).spec.selector.matchLabels);
    },
  },
  {
    name: "ServiceMonitor relabelings and metricRelabelings after the chart's own",
    sets: [
      'metrics.serviceMonitor.enabled=true',
      'metrics.serviceMonitor.relabelings[0].targetLabel=cluster',
      'metrics.serviceMonitor.relabelings[0].replacement=prod',
      'metrics.serviceMonitor.metricRelabelings[0].action=drop',
      'metrics.serviceMonitor.metricRelabelings[0].regex=nodejs_.*',
      'metrics.serviceMonitor.metricRelabelings[0].sourceLabels[0]=__name__',
    ],
    check: (o) => {
      const endpoint = o.find((x) => x.kind === 'ServiceMonitor')!.spec.endpoints[0];
      assert.deepEqual(
        endpoint.relabelings.map((r: any) => r.targetLabel),
        ['node', 'instance', 'cluster'],
      );
      assert.deepEqual(endpoint.metricRelabelings, [{ action: 'drop', regex: 'nodejs_.*', sourceLabels: ['__name__'] }]);
    },
  },
  {
    name: 'a PodMonitor instead of the ServiceMonitor, with the same relabelings',
    sets: ['metrics.podMonitor.enabled=true'],
    check: (o) => {
      const monitor = o.find((x) => x.kind === 'PodMonitor')!;
      assert.deepEqual(
        monitor.spec.podMetricsEndpoints[0].relabelings.map((r: any) => r.targetLabel),
        ['node', 'instance'],
      );
      assert.ok(!o.some((x) => x.kind === 'ServiceMonitor'));
    },
  },
];

for (const h of HATCHES) {
  test(`helm template: ${h.name}`, async () => {
    h.check((await renderChart(h.sets)).objects);
  });
}

test('ServiceMonitor and PodMonitor together are refused: every target would be scraped twice', async () => {
  const r = await runHelm(['template', 'ctop', CHART_DIR, '--set', 'metrics.serviceMonitor.enabled=true', '--set', 'metrics.podMonitor.enabled=true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /choose one/);
});

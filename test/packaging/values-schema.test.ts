// values.schema.json stops bad values at `helm install`/`helm template`, and
// the message names the value.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runHelm } from '../support/kube/tools.js';
import { CHART_DIR, renderChart } from './render.js';

async function templateFails(set: string): Promise<string> {
  const r = await runHelm(['template', 'ctop', CHART_DIR, '--set', set]);
  assert.notEqual(r.code, 0, `helm template --set ${set} should fail`);
  return r.stderr;
}

const BAD: { set: string; names: RegExp }[] = [
  { set: 'agent.interval=-30s', names: /\/agent\/interval.*-30s/ },
  { set: 'agent.interval=-30', names: /\/agent\/interval/ },
  { set: 'agent.interval=500ms', names: /\/agent\/interval/ },
  { set: 'agent.interval=soon', names: /\/agent\/interval/ },
  { set: 'agent.notrackBackend=ipvs', names: /\/agent\/notrackBackend.*'auto', 'iptables-nft', 'iptables-legacy', 'nftables'/ },
  { set: 'agent.logLevel=verbose', names: /\/agent\/logLevel/ },
  { set: 'agent.metricsPort=70000', names: /\/agent\/metricsPort/ },
  { set: 'agent.serviceCidrs={10.96.0.0}', names: /\/agent\/serviceCidrs\/0/ },
  { set: 'agent.stateDir=relative/dir', names: /\/agent\/stateDir/ },
  { set: 'agent.intreval=30s', names: /\/agent.*'intreval' not allowed/ },
  { set: 'controller.replicas=0', names: /\/controller\/replicas/ },
  { set: 'metrics.prometheusRule.nearlyFullRatio=1.5', names: /\/metrics\/prometheusRule\/nearlyFullRatio/ },
  { set: 'metrics.prometheusRule.driftFor=half-an-hour', names: /\/metrics\/prometheusRule\/driftFor/ },
];

for (const bad of BAD) {
  test(`--set ${bad.set} is refused, naming the value`, async () => {
    assert.match(await templateFails(bad.set), bad.names);
  });
}

const GOOD = ['agent.interval=1000ms', 'agent.interval=5m', 'agent.interval=90', 'agent.notrackBackend=iptables-legacy', 'agent.podCidrs={fd00::/48}'];

for (const good of GOOD) {
  test(`--set ${good} passes the schema`, async () => {
    const { objects } = await renderChart([good]);
    assert.ok(objects.some((o) => o.kind === 'DaemonSet'));
  });
}

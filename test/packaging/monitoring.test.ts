// The PrometheusRule and the Grafana dashboard query only metrics the agent
// really exports (the one registry in src/report/metrics.ts), with label values
// it really sets; the dashboard is valid JSON Grafana can import.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram } from 'prom-client';
import { AgentMetrics, KERNEL_COUNTERS } from '../../src/report/metrics.js';
import { findObject, renderChart } from './render.js';

const MONITORING = ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'metrics.dashboard.enabled=true'];

/** Series names a scrape of the agent can show (a histogram's _bucket/_sum/_count included). */
function exportedSeries(): Set<string> {
  const metrics = new AgentMetrics('n').registry.getMetricsAsArray();
  return new Set(metrics.flatMap((m) => (m instanceof Histogram ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])));
}

function metricNamesIn(expr: string): string[] {
  return [...expr.matchAll(/\b(conntrack_operator_[a-z_]+)/g)].map((m) => m[1]!);
}

function assertKnownSeries(expr: string, known: Set<string>): void {
  const names = metricNamesIn(expr);
  for (const name of names) assert.ok(known.has(name), `${expr}: ${name} is not exported by the agent`);
  for (const m of expr.matchAll(/counter="([^"]+)"/g)) assert.ok((KERNEL_COUNTERS as readonly string[]).includes(m[1]!), `${expr}: no kernel counter ${m[1]}`);
}

test('the alerts: nearly full, full and dropping, drift persisting, agent down', async () => {
  const { objects } = await renderChart(MONITORING);
  const rules = findObject(objects, 'PrometheusRule').spec.groups.flatMap((g: any) => g.rules) as { alert: string; expr: string; for?: string }[];
  const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
  assert.deepEqual(Object.keys(byName).sort(), ['ConntrackDriftPersisting', 'ConntrackOperatorAgentDown', 'ConntrackTableFull', 'ConntrackTableNearlyFull']);
  assert.equal(byName.ConntrackTableNearlyFull!.expr, 'conntrack_operator_table_usage_ratio > 0.9');
  assert.equal(byName.ConntrackTableNearlyFull!.for, '5m');
  assert.equal(byName.ConntrackTableFull!.expr, 'rate(conntrack_operator_kernel_counter{counter="drop"}[5m]) > 0');
  assert.equal(byName.ConntrackDriftPersisting!.expr, 'conntrack_operator_drift == 1');
  assert.equal(byName.ConntrackDriftPersisting!.for, '30m');
  // prometheus-operator names the job after the scraped Service.
  const agentService = objects.find((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/component'] === 'agent')!;
  const up = `up{job="${agentService.metadata.name}", namespace="${agentService.metadata.namespace}"}`;
  assert.equal(byName.ConntrackOperatorAgentDown!.expr, `${up} == 0 or absent(${up})`);
  const known = exportedSeries();
  for (const r of rules) assertKnownSeries(r.expr, known);
});

test('the dashboard is valid JSON whose every query uses exported metrics', async () => {
  const { objects } = await renderChart(MONITORING);
  const configMap = findObject(objects, 'ConfigMap');
  assert.equal(configMap.metadata.labels?.grafana_dashboard, '1');
  const dashboard = JSON.parse(configMap.data['conntrack-operator.json']);
  assert.equal(typeof dashboard.title, 'string');
  assert.equal(dashboard.uid, 'conntrack-operator');
  const exprs = (dashboard.panels as any[]).flatMap((p) => (p.targets as any[]).map((t) => t.expr as string));
  assert.ok(exprs.length >= 8);
  const known = exportedSeries();
  for (const expr of exprs) {
    assert.ok(metricNamesIn(expr).length > 0, `${expr}: queries no conntrack_operator metric`);
    assertKnownSeries(expr, known);
  }
  // Every exported metric is on the dashboard somewhere.
  const shown = new Set(exprs.flatMap(metricNamesIn).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
  for (const name of known) assert.ok(shown.has(name.replace(/_(bucket|sum|count)$/, '')), `${name} is on no panel`);
});

test('the ServiceMonitor scrapes the metrics port of both metrics Services', async () => {
  const { objects } = await renderChart(MONITORING);
  const monitor = findObject(objects, 'ServiceMonitor');
  const selected = objects.filter(
    (o) => o.kind === 'Service' && Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => o.metadata.labels?.[k] === v),
  );
  assert.deepEqual(selected.map((s) => s.metadata.labels?.['app.kubernetes.io/component']).sort(), ['agent', 'controller']);
  for (const s of selected) assert.ok(s.spec.ports.some((p: any) => p.name === monitor.spec.endpoints[0].port));
  const agentService = selected.find((s) => s.metadata.labels?.['app.kubernetes.io/component'] === 'agent')!;
  assert.equal(agentService.spec.clusterIP, 'None', 'headless: every node is a target');
});

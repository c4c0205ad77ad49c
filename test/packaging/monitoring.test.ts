// The PrometheusRule and the Grafana dashboard query only metrics the agent
// really exports (the one registry in src/metrics/registries.ts), with label values
// it really sets; the dashboard is valid JSON Grafana can import.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { Histogram } from 'prom-client';
import { AgentMetrics } from '../../src/metrics/registries.js';
import { findObject, renderChart } from './render.js';

const MONITORING = ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true', 'metrics.dashboard.enabled=true'];

/** conntrack_operator series names a scrape of the agent can show (a histogram's _bucket/_sum/_count included). */
function exportedSeries(): Set<string> {
  const metrics = new AgentMetrics({ version: 'test' }).registry.getMetricsAsArray();
  return new Set(metrics.flatMap((m) => (m instanceof Histogram ? ['_bucket', '_sum', '_count'].map((s) => m.name + s) : [m.name])));
}

/** Metric names an expression selects: by name, or every exported name a {__name__=~"..."} matcher covers. */
function metricNamesIn(expr: string, known: Set<string>): string[] {
  const byName = [...expr.replace(/__name__=~"[^"]*"/g, '').matchAll(/\b(conntrack_operator_[a-z_]+)/g)].map((m) => m[1]!);
  const byRegex = [...expr.matchAll(/__name__=~"([^"]+)"/g)].flatMap((m) => [...known].filter((n) => new RegExp(`^(?:${m[1]})$`).test(n)));
  return [...byName, ...byRegex];
}

function assertKnownSeries(expr: string, known: Set<string>): void {
  const names = metricNamesIn(expr, known);
  assert.ok(names.length > 0, `${expr}: queries no conntrack_operator metric`);
  for (const name of names) assert.ok(known.has(name), `${expr}: ${name} is not exported by the agent`);
  assert.doesNotMatch(expr, /exported_|pod="/, `${expr}: labels the scrape does not give`);
}

const rulesOf = (objects: Awaited<ReturnType<typeof renderChart>>['objects']) =>
  findObject(objects, 'PrometheusRule').spec.groups.flatMap((g: any) => g.rules) as {
    alert: string;
    expr: string;
    for?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  }[];

test('the alerts: nearly full, filling up, full (host and other namespaces), insertion race, drift persisting, agent down or missing; each held and with a runbook', async () => {
  const { objects } = await renderChart(MONITORING);
  const rules = rulesOf(objects);
  const byName = Object.fromEntries(rules.map((r) => [r.alert, r]));
  assert.deepEqual(Object.keys(byName).sort(), [
    'ConntrackDriftPersisting',
    'ConntrackInsertionRaceDrops',
    'ConntrackNamespaceTableFull',
    'ConntrackOperatorAgentDown',
    'ConntrackOperatorAgentMissing',
    'ConntrackTableFillingUp',
    'ConntrackTableFull',
    'ConntrackTableNearlyFull',
  ]);
  // Each node's own policy threshold, as its agent exports it; not one number for the fleet.
  assert.equal(byName.ConntrackTableNearlyFull!.expr, 'conntrack_operator_table_fullest_usage_ratio >= conntrack_operator_pressure_critical_ratio');
  assert.equal(
    byName.ConntrackTableFillingUp!.expr,
    'predict_linear(conntrack_operator_table_fullest_entries[1h], 14400) > conntrack_operator_table_max and conntrack_operator_table_fullest_usage_ratio >= conntrack_operator_pressure_warning_ratio and conntrack_operator_table_fullest_usage_ratio < 1',
  );
  assert.equal(byName.ConntrackNamespaceTableFull!.expr, 'rate(conntrack_operator_netns_stat_drop_total[5m]) > 0');
  assert.equal(byName.ConntrackNamespaceTableFull!.labels.severity, 'critical');
  assert.equal(byName.ConntrackTableFull!.labels.severity, 'critical');
  assert.equal(byName.ConntrackInsertionRaceDrops!.labels.severity, 'warning');
  assert.match(
    byName.ConntrackTableFull!.expr,
    /rate\(conntrack_operator_stat_drop_total\[5m\]\)\s+- \(rate\(conntrack_operator_stat_insert_failed_total\[5m\]\)/,
  );
  assert.match(byName.ConntrackInsertionRaceDrops!.expr, /insert_failed_total\[5m\]\) > 0\s+and rate\(conntrack_operator_stat_drop_total\[5m\]\) > 0/);
  assert.equal(byName.ConntrackDriftPersisting!.expr, 'conntrack_operator_drift == 1');
  // prometheus-operator names the job after the scraped Service.
  const agentService = objects.find((o) => o.kind === 'Service' && o.metadata.labels?.['app.kubernetes.io/component'] === 'agent')!;
  const up = `up{job="${agentService.metadata.name}", namespace="${agentService.metadata.namespace}"}`;
  assert.equal(byName.ConntrackOperatorAgentDown!.expr, `${up} == 0 or absent(${up})`);
  // kube-state-metrics' figures of the agent DaemonSet as rendered.
  const ds = findObject(objects, 'DaemonSet');
  for (const metric of ['kube_daemonset_status_desired_number_scheduled', 'kube_daemonset_status_number_ready']) {
    assert.ok(byName.ConntrackOperatorAgentMissing!.expr.includes(`${metric}{namespace="${ds.metadata.namespace}", daemonset="${ds.metadata.name}"}`), metric);
  }
  const docs = readFileSync(new URL('../../docs/operating.md', import.meta.url), 'utf8');
  const anchors = new Set(
    [...docs.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
  const known = exportedSeries();
  for (const r of rules) {
    if (!r.alert.startsWith('ConntrackOperatorAgent')) assertKnownSeries(r.expr, known); // those query up{} and kube-state-metrics
    assert.match(r.for ?? '', /^\d+[smh]$/, `${r.alert} has a for:`);
    const anchor = /docs\/operating\.md#([a-z0-9-]+)$/.exec(r.annotations.runbook_url ?? '')?.[1];
    assert.ok(anchor && anchors.has(anchor), `${r.alert}: runbook_url ${r.annotations.runbook_url} points at a section of docs/operating.md`);
  }
});

test('the agent-down alert comes only with a scrape config whose job it names', async (t) => {
  const cases = [
    { name: 'rule alone: no absent() of a job nobody scrapes', sets: ['metrics.prometheusRule.enabled=true'], up: null },
    {
      name: 'with the PodMonitor: its job, the agent container',
      sets: ['metrics.prometheusRule.enabled=true', 'metrics.podMonitor.enabled=true'],
      up: 'up{job="conntrack-system/ctop-conntrack-operator", container="agent"}',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const byName = Object.fromEntries(rulesOf((await renderChart(c.sets)).objects).map((r) => [r.alert, r]));
      assert.equal(byName.ConntrackOperatorAgentDown?.expr ?? null, c.up && `${c.up} == 0 or absent(${c.up})`);
    });
  }
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
  for (const expr of exprs) assertKnownSeries(expr, known);
  // Every exported metric is on the dashboard somewhere.
  const shown = new Set(exprs.flatMap((e) => metricNamesIn(e, known)).map((n) => n.replace(/_(bucket|sum|count)$/, '')));
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

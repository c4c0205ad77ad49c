// The PrometheusRule checked by Prometheus' own tool: `promtool check rules`
// parses every expression and template, `promtool test rules` evaluates the
// alerts over series shaped like the agent's (a full table, the insertion race,
// a kernel without insert_failed, a pod namespace full, thresholds from each
// node's own policy, a slow fill the trend forecasts), and over what an agent
// really exports for a DryRun policy and for drift under Enforce, and checks which fire. promtool comes from
// Debian's `prometheus` package; without it the tests skip and say so (the
// metric names are checked against the agent's registry in monitoring.test.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dump } from 'js-yaml';
import { findObject, renderChart } from './render.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { policy, rig, TIME_WAIT } from '../support/agent-rig.js';

const promtool = spawnSync('promtool', ['--version']).status === 0 ? 'promtool' : null;
const skip = promtool ? false : 'promtool not installed (Debian: apt-get install prometheus)';

async function ruleGroups(): Promise<any[]> {
  const { objects } = await renderChart(['metrics.prometheusRule.enabled=true', 'metrics.serviceMonitor.enabled=true']);
  return findObject(objects, 'PrometheusRule').spec.groups;
}

function run(args: string[], cwd: string): { code: number | null; out: string } {
  const r = spawnSync(promtool!, args, { cwd, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

function withDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'i11-promtool-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('promtool check rules: every expression and template of the rendered rule file parses', { skip }, async () => {
  const groups = await ruleGroups();
  withDir((dir) => {
    writeFileSync(join(dir, 'rules.yaml'), dump({ groups }));
    const r = run(['check', 'rules', 'rules.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 8 rules found/);
  });
});

// One agent target, as the ServiceMonitor labels it.
const target = 'job="ctop-conntrack-operator-agent-metrics", namespace="conntrack-system", node="n1", instance="n1"';
const expLabels = { job: 'ctop-conntrack-operator-agent-metrics', namespace: 'conntrack-system', node: 'n1', instance: 'n1' };
/** A pod's namespace, as the agent labels its series. */
const podNetns = 'netns="4026532174", pod_uid="0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01", pod_namespace="shop", pod_name="web-7f9c"';
const podNetnsLabels = { netns: '4026532174', pod_uid: '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01', pod_namespace: 'shop', pod_name: 'web-7f9c' };

/** The thresholds a node's policy puts in effect, as the agent exports them (the defaults: 70% and 90%). */
const thresholds = (warning = '0.7', critical = '0.9') => ({
  conntrack_operator_pressure_warning_ratio: `${warning}+0x40`,
  conntrack_operator_pressure_critical_ratio: `${critical}+0x40`,
});
/** The fullest namespace steady at `entries` of max 65536. */
const steady = (entries: number) => ({
  conntrack_operator_table_max: '65536+0x40',
  conntrack_operator_table_fullest_entries: `${entries}+0x40`,
  conntrack_operator_table_fullest_usage_ratio: `${entries / 65536}+0x40`,
});

// Series sampled every minute for 40 minutes, alerts judged at 30m.
const cases: Array<{ name: string; series: Record<string, string>; fires: string[] }> = [
  {
    name: 'a full table: drop rises alone at 100%',
    series: {
      conntrack_operator_stat_drop_total: '0+30x40',
      conntrack_operator_stat_insert_failed_total: '0+0x40',
      conntrack_operator_table_usage_ratio: '1+0x40',
      ...steady(65536),
      ...thresholds(),
    },
    fires: ['ConntrackTableFull', 'ConntrackTableNearlyFull'],
  },
  {
    name: 'the insertion race: drop and insert_failed rise together on a table 4% full',
    series: {
      conntrack_operator_stat_drop_total: '0+6x40',
      conntrack_operator_stat_insert_failed_total: '0+6x40',
      conntrack_operator_table_usage_ratio: '0.04+0x40',
      ...steady(2621),
      ...thresholds(),
    },
    fires: ['ConntrackInsertionRaceDrops'],
  },
  {
    name: 'a kernel without an insert_failed column: every drop counts as table full',
    series: { conntrack_operator_stat_drop_total: '0+30x40', ...steady(65536), ...thresholds() },
    fires: ['ConntrackTableFull', 'ConntrackTableNearlyFull'],
  },
  {
    name: 'old drops, none now: nothing fires',
    series: {
      conntrack_operator_stat_drop_total: '500+0x40',
      conntrack_operator_stat_insert_failed_total: '20+0x40',
      ...steady(19661),
      ...thresholds(),
    },
    fires: [],
  },
  {
    name: 'a pod namespace full and dropping while the host is quiet: the namespace alert, with the pod in its labels',
    series: {
      conntrack_operator_stat_drop_total: '0+0x40',
      conntrack_operator_stat_insert_failed_total: '0+0x40',
      conntrack_operator_table_usage_ratio: '0.01+0x40',
      [`conntrack_operator_netns_stat_drop_total{${podNetns}}`]: '100+1800x40',
      ...steady(65536),
      ...thresholds(),
    },
    fires: ['ConntrackNamespaceTableFull', 'ConntrackTableNearlyFull'],
  },
  {
    name: 'a pod namespace that dropped and stopped 15 minutes ago (its series left): quiet',
    series: { [`conntrack_operator_netns_stat_drop_total{${podNetns}}`]: '100+1800x15 _x25', ...steady(30000), ...thresholds() },
    fires: [],
  },
  { name: 'at 92% on a node whose policy says critical at 95%: quiet', series: { ...steady(60293), ...thresholds('0.8', '0.95') }, fires: [] },
  { name: 'at 92% on a node with the default 90%: nearly full', series: { ...steady(60293), ...thresholds() }, fires: ['ConntrackTableNearlyFull'] },
  {
    name: 'at 96% on a node whose policy says 95%: nearly full',
    series: { ...steady(62915), ...thresholds('0.8', '0.95') },
    fires: ['ConntrackTableNearlyFull'],
  },
  {
    name: 'a slow fill above the warning threshold that the trend puts past max within 4 h: filling up, not yet nearly full',
    series: {
      conntrack_operator_table_max: '65536+0x40',
      // 48,000 (73%) rising 200/min: 54,000 (82%) at 30m, +48,000 in 4 h
      conntrack_operator_table_fullest_entries: '48000+200x40',
      conntrack_operator_table_fullest_usage_ratio: `${48000 / 65536}+${200 / 65536}x40`,
      ...thresholds(),
    },
    fires: ['ConntrackTableFillingUp'],
  },
  {
    name: 'the same trend below the warning threshold (a node whose policy warns at 90%): quiet',
    series: {
      conntrack_operator_table_max: '65536+0x40',
      conntrack_operator_table_fullest_entries: '48000+200x40',
      conntrack_operator_table_fullest_usage_ratio: `${48000 / 65536}+${200 / 65536}x40`,
      ...thresholds('0.9', '0.95'),
    },
    fires: [],
  },
  { name: 'steady at 82%: no trend, quiet', series: { ...steady(53740), ...thresholds() }, fires: [] },
];

const alerts: Record<string, { severity: string; labels?: Record<string, string> }> = {
  ConntrackTableFull: { severity: 'critical' },
  ConntrackNamespaceTableFull: { severity: 'critical', labels: podNetnsLabels },
  ConntrackInsertionRaceDrops: { severity: 'warning' },
  ConntrackTableNearlyFull: { severity: 'warning' },
  ConntrackTableFillingUp: { severity: 'warning' },
};

test('promtool test rules: each alert fires when it should and stays quiet otherwise', { skip }, async () => {
  const groups = await ruleGroups();
  // Annotations are checked in monitoring.test.ts; here only which alert fires with which labels.
  const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }: any) => r) }));
  withDir((dir) => {
    writeFileSync(join(dir, 'rules.yaml'), dump({ groups: bare }));
    const tests = cases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: [
        ...Object.entries(c.series).map(([metric, values]) => ({
          series: metric.includes('{') ? metric.replace('{', `{${target}, `) : `${metric}{${target}}`,
          values,
        })),
        { series: `up{${target}}`, values: '1+0x40' },
      ],
      alert_rule_test: Object.entries(alerts).map(([alertname, a]) => ({
        eval_time: '30m',
        alertname,
        exp_alerts: c.fires.includes(alertname) ? [{ exp_labels: { ...expLabels, ...a.labels, severity: a.severity } }] : [],
      })),
    }));
    writeFileSync(join(dir, 'tests.yaml'), dump({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    const r = run(['test', 'rules', 'tests.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });
});

/** The agent's conntrack_operator series, each as a constant promtool input series of the one target. */
function seriesOf(exposition: string): Array<{ series: string; values: string }> {
  return exposition
    .split('\n')
    .filter((l) => l.startsWith('conntrack_operator_'))
    .map((line) => {
      const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line)!;
      return { series: `${m[1]}{${[m[2], target].filter(Boolean).join(', ')}}`, values: `${m[3]}+0x40` };
    });
}

test('promtool test rules: a DryRun policy fires nothing (its plan is not drift); drift under Enforce still fires', { skip }, async () => {
  const dryRun = async () => {
    const { agent, source, metrics } = rig(loadFixtureTree('host-6.18'), { labels: { pool: 'web' } });
    source.snapshot = { policies: [policy('web', 'DryRun', { timeWaitSeconds: 30 })] };
    await agent.pass();
    await agent.pass();
    return metrics.render();
  };
  const enforceDrift = async () => {
    const tree = loadFixtureTree('host-6.18');
    const { agent, metrics } = rig(tree, { labels: { pool: 'web' } });
    await agent.pass();
    tree.kernel.set(tree.paths.sysctl(TIME_WAIT), '120'); // another writer puts its own value back
    await agent.pass();
    return metrics.render();
  };
  const cases = [
    { name: 'a DryRun policy that would change a key', exposition: await dryRun(), fires: [] as string[], metric: 'conntrack_operator_plan_pending' },
    { name: 'a key changed after it was applied', exposition: await enforceDrift(), fires: ['ConntrackDriftPersisting'], metric: 'conntrack_operator_drift' },
  ];
  for (const c of cases) assert.match(c.exposition, new RegExp(`^${c.metric}\\{key="${TIME_WAIT}"\\} 1$`, 'm'), `${c.name}: exported as ${c.metric}`);
  assert.doesNotMatch(cases[0]!.exposition, /^conntrack_operator_drift\{/m, 'DryRun exports no drift');
  const groups = await ruleGroups();
  const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }: any) => r) }));
  const alerts: string[] = bare.flatMap((g: any) => g.rules.map((r: any) => r.alert));
  withDir((dir) => {
    writeFileSync(join(dir, 'rules.yaml'), dump({ groups: bare }));
    const tests = cases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: [...seriesOf(c.exposition), { series: `up{${target}}`, values: '1+0x40' }],
      alert_rule_test: alerts.map((alertname) => ({
        eval_time: '40m',
        alertname,
        exp_alerts: c.fires.includes(alertname) ? [{ exp_labels: { ...expLabels, key: TIME_WAIT, severity: 'warning' } }] : [],
      })),
    }));
    writeFileSync(join(dir, 'tests.yaml'), dump({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    const r = run(['test', 'rules', 'tests.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });
});

// The agents as prometheus-operator and kube-state-metrics see them: three nodes, one
// agent target each (the ServiceMonitor's job), and the DaemonSet's desired and ready counts.
const DS = { namespace: 'conntrack-system', daemonset: 'ctop-conntrack-operator-agent' };
const ksm = (metric: string, values: string) => ({
  series: `${metric}{job="kube-state-metrics", instance="10.0.0.9:8080", namespace="${DS.namespace}", daemonset="${DS.daemonset}"}`,
  values,
});
const agentUp = (node: string, values: string) => ({
  series: `up{job="ctop-conntrack-operator-agent-metrics", namespace="conntrack-system", node="${node}", instance="${node}"}`,
  values,
});
const agentCases: Array<{
  name: string;
  input_series: Array<{ series: string; values: string }>;
  fires: Record<string, Record<string, string>[]>;
  /** When to look (default 25m). */
  at?: string;
}> = [
  {
    name: 'every node has its agent: quiet',
    input_series: [
      ksm('kube_daemonset_status_desired_number_scheduled', '3+0x30'),
      ksm('kube_daemonset_status_number_ready', '3+0x30'),
      ...['n1', 'n2', 'n3'].map((n) => agentUp(n, '1+0x30')),
    ],
    fires: {},
  },
  {
    name: "one node's agent Pending (no pod address, so no target and no up series): the DaemonSet figures notice it",
    input_series: [
      ksm('kube_daemonset_status_desired_number_scheduled', '3+0x30'),
      ksm('kube_daemonset_status_number_ready', '2+0x30'),
      ...['n1', 'n2'].map((n) => agentUp(n, '1+0x30')),
    ],
    fires: { ConntrackOperatorAgentMissing: [DS] },
  },
  {
    name: 'a rollout of a big fleet: a wave or another unready for 11 minutes on end, looked at while it lasts: quiet',
    at: '12m',
    input_series: [
      ksm('kube_daemonset_status_desired_number_scheduled', '3+0x30'),
      ksm('kube_daemonset_status_number_ready', '3 3 2 2 2 2 2 2 2 2 2 2 2 2 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3'),
      ...['n1', 'n2', 'n3'].map((n) => agentUp(n, '1+0x30')),
    ],
    fires: {},
  },
  {
    name: 'no kube-state-metrics, one agent crash-looping (its target fails): the up alert',
    input_series: [agentUp('n1', '1+0x30'), agentUp('n2', '0+0x30')],
    fires: { ConntrackOperatorAgentDown: [{ job: 'ctop-conntrack-operator-agent-metrics', namespace: 'conntrack-system', node: 'n2', instance: 'n2' }] },
  },
  {
    name: 'every agent gone, no kube-state-metrics: absent() of the job',
    input_series: [{ series: 'up{job="kube-state-metrics", instance="10.0.0.9:8080"}', values: '1+0x30' }],
    fires: { ConntrackOperatorAgentDown: [{ job: 'ctop-conntrack-operator-agent-metrics', namespace: 'conntrack-system' }] },
  },
];

test('promtool test rules: a node without a ready agent is noticed, with or without a scrape target; a rollout is not', { skip }, async () => {
  const groups = await ruleGroups();
  const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }: any) => r) }));
  const alerts = ['ConntrackOperatorAgentDown', 'ConntrackOperatorAgentMissing'];
  withDir((dir) => {
    writeFileSync(join(dir, 'rules.yaml'), dump({ groups: bare }));
    const tests = agentCases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: c.input_series,
      alert_rule_test: alerts.map((alertname) => ({
        eval_time: c.at ?? '25m',
        alertname,
        exp_alerts: (c.fires[alertname] ?? []).map((labels) => ({ exp_labels: { ...labels, severity: 'warning' } })),
      })),
    }));
    writeFileSync(join(dir, 'tests.yaml'), dump({ rule_files: ['rules.yaml'], evaluation_interval: '1m', tests }));
    const r = run(['test', 'rules', 'tests.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });
});

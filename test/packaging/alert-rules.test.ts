// The PrometheusRule checked by Prometheus' own tool: `promtool check rules`
// parses every expression and template, `promtool test rules` evaluates the
// alerts over series shaped like the agent's (a full table, the insertion race,
// a kernel without insert_failed) and checks which fire. promtool comes from
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
    assert.match(r.out, /SUCCESS: 6 rules found/);
  });
});

// One agent target, as the ServiceMonitor labels it.
const target = 'job="ctop-conntrack-operator-agent-metrics", namespace="conntrack-system", node="n1", instance="n1"';
const expLabels = { job: 'ctop-conntrack-operator-agent-metrics', namespace: 'conntrack-system', node: 'n1', instance: 'n1' };

const cases: Array<{ name: string; series: Record<string, string>; fires: string[] }> = [
  {
    name: 'a full table: drop rises alone at 100%',
    series: {
      conntrack_operator_stat_drop_total: '0+30x20',
      conntrack_operator_stat_insert_failed_total: '0+0x20',
      conntrack_operator_table_usage_ratio: '1+0x20',
    },
    fires: ['ConntrackTableFull', 'ConntrackTableNearlyFull'],
  },
  {
    name: 'the insertion race: drop and insert_failed rise together on a table 4% full',
    series: {
      conntrack_operator_stat_drop_total: '0+6x20',
      conntrack_operator_stat_insert_failed_total: '0+6x20',
      conntrack_operator_table_usage_ratio: '0.04+0x20',
    },
    fires: ['ConntrackInsertionRaceDrops'],
  },
  {
    name: 'a kernel without an insert_failed column: every drop counts as table full',
    series: { conntrack_operator_stat_drop_total: '0+30x20', conntrack_operator_table_usage_ratio: '1+0x20' },
    fires: ['ConntrackTableFull', 'ConntrackTableNearlyFull'],
  },
  {
    name: 'old drops, none now: nothing fires',
    series: {
      conntrack_operator_stat_drop_total: '500+0x20',
      conntrack_operator_stat_insert_failed_total: '20+0x20',
      conntrack_operator_table_usage_ratio: '0.3+0x20',
    },
    fires: [],
  },
];

test('promtool test rules: a full table and the insertion race fire different alerts', { skip }, async () => {
  const groups = await ruleGroups();
  // Annotations are checked in monitoring.test.ts; here only which alert fires with which labels.
  const bare = groups.map((g) => ({ ...g, rules: g.rules.map(({ annotations: _, ...r }: any) => r) }));
  const alerts = ['ConntrackTableFull', 'ConntrackInsertionRaceDrops', 'ConntrackTableNearlyFull'];
  const severity: Record<string, string> = { ConntrackTableFull: 'critical', ConntrackInsertionRaceDrops: 'warning', ConntrackTableNearlyFull: 'warning' };
  withDir((dir) => {
    writeFileSync(join(dir, 'rules.yaml'), dump({ groups: bare }));
    const tests = cases.map((c) => ({
      name: c.name,
      interval: '1m',
      input_series: [
        ...Object.entries(c.series).map(([metric, values]) => ({ series: `${metric}{${target}}`, values })),
        { series: `up{${target}}`, values: '1+0x20' },
      ],
      alert_rule_test: alerts.map((alertname) => ({
        eval_time: '15m',
        alertname,
        exp_alerts: c.fires.includes(alertname) ? [{ exp_labels: { ...expLabels, severity: severity[alertname] } }] : [],
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

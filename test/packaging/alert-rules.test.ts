// The PrometheusRule checked by Prometheus' own tool: `promtool check rules`
// parses every expression and template, `promtool test rules` evaluates the
// alerts over series shaped like the agent's (a full table, the insertion race,
// a kernel without insert_failed), and over what an agent really exports for a
// DryRun policy and for drift under Enforce, and checks which fire. promtool comes from
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
    assert.match(r.out, /SUCCESS: 5 rules found/);
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

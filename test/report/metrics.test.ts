// The /metrics exposition, golden: names, help, types and labels are an
// interface (dashboards and alerts depend on them). Regenerate the golden file
// only on purpose: UPDATE_GOLDEN=1 node --import tsx --test test/report/metrics.test.ts
// writes it and compares nothing (the test is reported skipped); the next run,
// without UPDATE_GOLDEN, compares. Check the diff is what you meant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AgentMetrics, ControllerMetrics } from '../../src/metrics/registries.js';

const GOLDEN = fileURLToPath(new URL('./metrics.golden.txt', import.meta.url));

const options = { version: '0.1.0-test' };

test('agent /metrics exposition matches the golden file', async (t) => {
  const m = new AgentMetrics(options);
  // Every counter the stat file of host-6.18 has (and clash_resolve/chain_too_long as conntrack -S names them).
  m.observeTable({
    count: 183501,
    max: 262144,
    buckets: 65536,
    counters: {
      found: 9,
      invalid: 40,
      ignore: 7,
      insert: 0,
      insertFailed: 1,
      drop: 12,
      earlyDrop: 3,
      icmpError: 2,
      searchRestart: 0,
      clashResolve: 236,
      chainTooLong: 0,
      new: 0,
      delete: 0,
      expectNew: 0,
      expectCreate: 0,
      expectDelete: 0,
    },
  });
  m.observeDrift(['nf_conntrack_max', 'nf_conntrack_tcp_timeout_established']);
  m.observePlanPending(['nf_conntrack_tcp_timeout_time_wait']);
  const pod = { inode: 4026532177, podUid: '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01', podNamespace: 'shop', podName: 'web-7f9c' };
  m.observeNamespaces({
    count: 3,
    entries: 263378,
    top: [
      { ...pod, entries: 262144 },
      { inode: 4026531833, entries: 1234 },
    ],
    full: [{ ...pod, entries: 262144, drop: 51639, dropsRising: 51539 }],
    pressure: [{ ...pod, entries: 262144 }],
  });
  m.observeFill(
    {
      count: 183501,
      max: 262144,
      buckets: 65536,
      usagePercent: 70,
      usage: '70%',
      fullest: { host: false, ...pod, entries: 262144, usagePercent: 100, usage: '100%' },
      growthPerSecond: 1200.5,
      secondsToFull: 40,
    },
    { warningPercent: 80, criticalPercent: 95 },
  );
  m.observeNotrackWithheld(1);
  m.observeReconcile('applied', 0.012, 4, 1795321103);
  m.observeReconcile('in_sync', 0.004, 4, 1795321133);
  m.observePressureResponse(true);
  const text = await m.render();
  if (process.env.UPDATE_GOLDEN === '1') {
    writeFileSync(GOLDEN, text);
    return t.skip(`wrote ${GOLDEN}: compared on the next run without UPDATE_GOLDEN`);
  }
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
});

test('a key that stops drifting disappears; unreadable values and events that never happened are absent, not zero', async () => {
  const m = new AgentMetrics(options);
  const before = await m.render();
  assert.doesNotMatch(before, /^conntrack_operator_(last_successful_apply_timestamp_seconds|notrack_rules|table_entries|stat_drop_total) /m);
  m.observeDrift(['a', 'b']);
  m.observeDrift(['b']);
  m.observeTable({ count: 10, max: 262144, buckets: 1024, counters: { drop: 3, insertFailed: 1 } });
  m.observeTable({ count: null, max: 262144, buckets: null, counters: { drop: 4 } });
  const text = await m.render();
  assert.doesNotMatch(text, /conntrack_operator_drift\{key="a"/);
  assert.match(text, /^conntrack_operator_drift\{key="b"\} 1$/m);
  assert.doesNotMatch(text, /^conntrack_operator_table_entries /m);
  assert.doesNotMatch(text, /^conntrack_operator_table_usage_ratio /m);
  assert.match(text, /^conntrack_operator_table_max 262144$/m);
  assert.match(text, /^conntrack_operator_stat_drop_total 4$/m);
  assert.doesNotMatch(text, /^conntrack_operator_stat_insert_failed_total /m, 'a column gone from the source is absent');
  assert.doesNotMatch(text, /node=|pod=/, 'no self-set node or pod label: the scrape config adds them');
});

test('kernel stats are counters named after the kernel column, snake_case, _total', async () => {
  const m = new AgentMetrics(options);
  m.observeTable({ count: 1, max: 2, buckets: 2, counters: { earlyDrop: 5, clashResolve: 236 } });
  const text = await m.render();
  assert.match(text, /^# TYPE conntrack_operator_stat_early_drop_total counter$/m);
  assert.match(text, /^conntrack_operator_stat_early_drop_total 5$/m);
  assert.match(text, /^conntrack_operator_stat_clash_resolve_total 236$/m);
  for (const name of text.matchAll(/^# TYPE (conntrack_operator_stat_\S+) (\S+)$/gm)) {
    assert.match(name[1]!, /^conntrack_operator_stat_[a-z_]+_total$/);
    assert.equal(name[2], 'counter');
  }
});

test('build info, for the agent and the controller; the command adds the process metrics', async () => {
  for (const m of [new AgentMetrics({ version: '1.2.3' }), new ControllerMetrics({ version: '1.2.3' })]) {
    const text = await m.render();
    assert.match(text, /^conntrack_operator_build_info\{version="1\.2\.3"\} 1$/m);
    assert.doesNotMatch(text, /^(process|nodejs)_/m);
    assert.doesNotMatch(text, /pod="/);
  }
});

test('namespace series are replaced each pass (bounded to the status top), and removed without a census', async () => {
  const m = new AgentMetrics({ version: '1.2.3' });
  m.observeNamespaces({
    count: 2,
    entries: 30,
    top: [
      { inode: 1, entries: 20 },
      { inode: 2, entries: 10 },
    ],
    full: [],
    pressure: [],
  });
  m.observeNamespaces({ count: 2, entries: 31, top: [{ inode: 3, entries: 31 }], full: [], pressure: [] });
  let text = await m.render();
  assert.deepEqual(text.match(/^conntrack_operator_netns_entries\{.*$/gm), [
    'conntrack_operator_netns_entries{netns="3",pod_uid="",pod_namespace="",pod_name=""} 31',
  ]);
  assert.match(text, /^conntrack_operator_node_entries 31$/m);
  m.observeNamespaces(null);
  text = await m.render();
  assert.doesNotMatch(text, /^conntrack_operator_(node_entries|network_namespaces|netns_entries)[{ ]/m);
});

test('the forecast, the fullest namespace and the thresholds in effect: absent until known, removed when no longer known', async () => {
  const m = new AgentMetrics(options);
  const names =
    /^conntrack_operator_(table_fullest_entries|table_fullest_usage_ratio|table_growth_per_second|table_seconds_to_full|pressure_warning_ratio|pressure_critical_ratio) /gm;
  assert.deepEqual((await m.render()).match(names), null, 'nothing before the first pass');
  const table = { count: 10, max: 1000, buckets: 1024, usagePercent: 1, usage: '1%', fullest: { host: true, entries: 10, usagePercent: 1, usage: '1%' } };
  m.observeFill({ ...table, growthPerSecond: 250, secondsToFull: 4 }, { warningPercent: 70, criticalPercent: 90 });
  m.observeFill(table, { warningPercent: 80, criticalPercent: 95 });
  const text = await m.render();
  assert.doesNotMatch(text, /^conntrack_operator_table_(growth_per_second|seconds_to_full) /m, 'no forecast any more: absent, not 0');
  assert.match(text, /^conntrack_operator_table_fullest_entries 10$/m);
  assert.match(text, /^conntrack_operator_table_fullest_usage_ratio 0.01$/m);
  assert.match(text, /^conntrack_operator_pressure_warning_ratio 0.8$/m, "the node's own policy, not a fixed number");
  assert.match(text, /^conntrack_operator_pressure_critical_ratio 0.95$/m);
  m.observeFill(undefined, { warningPercent: 70, criticalPercent: 90 });
  assert.doesNotMatch(await m.render(), /^conntrack_operator_table_fullest_/m, 'no table read: no fullest namespace');
});

test('namespace drop series: only the namespaces dropping now (at most the five of the status list), pod named where known, replaced each pass', async () => {
  const m = new AgentMetrics(options);
  const full = Array.from({ length: 5 }, (_, i) => ({ inode: 100 + i, drop: 1000 - i, dropsRising: 10 }));
  m.observeNamespaces({ count: 9, top: [], full: [{ ...full[0]!, podUid: 'u-1', podNamespace: 'shop', podName: 'web-1' }, ...full.slice(1)], pressure: [] });
  let series = (await m.render()).match(/^conntrack_operator_netns_stat_drop_total\{.*$/gm);
  assert.equal(series?.length, 5);
  assert.equal(series![0], 'conntrack_operator_netns_stat_drop_total{netns="100",pod_uid="u-1",pod_namespace="shop",pod_name="web-1"} 1000');
  assert.equal(series![1], 'conntrack_operator_netns_stat_drop_total{netns="101",pod_uid="",pod_namespace="",pod_name=""} 999');
  m.observeNamespaces({ count: 9, top: [], full: [], pressure: [] });
  series = (await m.render()).match(/^conntrack_operator_netns_stat_drop_total\{.*$/gm);
  assert.equal(series, null, 'no namespace dropping now: no series');
});

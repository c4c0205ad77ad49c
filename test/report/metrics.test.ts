// The /metrics exposition, golden: names, help, types and labels are an
// interface (dashboards and alerts depend on them). Regenerate the golden file
// only on purpose: UPDATE_GOLDEN=1 node --import tsx --test test/report/metrics.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AgentMetrics } from '../../src/report/metrics.js';

const GOLDEN = fileURLToPath(new URL('./metrics.golden.txt', import.meta.url));

test('agent /metrics exposition matches the golden file', async () => {
  const m = new AgentMetrics('node-a');
  m.observeTable({ count: 183501, max: 262144, buckets: 65536, counters: { drop: 12, earlyDrop: 3, insertFailed: 1, invalid: 40, searchRestart: 0 } });
  m.observeDrift(['nf_conntrack_max', 'nf_conntrack_tcp_timeout_established']);
  m.observeNamespaces({
    count: 3,
    entries: 201234,
    top: [{ inode: 4026532177, entries: 200000, podUid: '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01' }, { inode: 4026531833, entries: 1234 }],
    full: [],
    pressure: [],
  });
  m.observeReconcile('applied', 0.012, 4, 1795321103);
  m.observeReconcile('in_sync', 0.004, 4, 1795321133);
  const text = await m.render();
  if (process.env.UPDATE_GOLDEN) writeFileSync(GOLDEN, text);
  assert.equal(text, readFileSync(GOLDEN, 'utf8'));
});

test('a key that stops drifting disappears; unreadable values are not exported as zero', async () => {
  const m = new AgentMetrics('node-a');
  m.observeDrift(['a', 'b']);
  m.observeDrift(['b']);
  m.observeTable({ count: null, max: 262144, buckets: null, counters: null });
  const text = await m.render();
  assert.doesNotMatch(text, /conntrack_operator_drift\{key="a"/);
  assert.match(text, /conntrack_operator_drift\{key="b",node="node-a"\} 1/);
  assert.doesNotMatch(text, /^conntrack_operator_table_entries\{/m);
  assert.doesNotMatch(text, /^conntrack_operator_table_usage_ratio\{/m);
  assert.match(text, /^conntrack_operator_table_max\{node="node-a"\} 262144$/m);
});

test('namespace series are replaced each pass (bounded to the status top), and removed without a census', async () => {
  const m = new AgentMetrics('node-a');
  m.observeNamespaces({ count: 2, entries: 30, top: [{ inode: 1, entries: 20 }, { inode: 2, entries: 10 }], full: [], pressure: [] });
  m.observeNamespaces({ count: 2, entries: 31, top: [{ inode: 3, entries: 31 }], full: [], pressure: [] });
  let text = await m.render();
  assert.deepEqual(text.match(/^conntrack_operator_netns_entries\{.*$/gm), ['conntrack_operator_netns_entries{netns="3",pod_uid="",node="node-a"} 31']);
  assert.match(text, /^conntrack_operator_node_entries\{node="node-a"\} 31$/m);
  m.observeNamespaces(null);
  text = await m.render();
  assert.doesNotMatch(text, /^conntrack_operator_(node_entries|network_namespaces|netns_entries)\{/m);
});

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

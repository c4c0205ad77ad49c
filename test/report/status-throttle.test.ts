import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEARTBEAT_MS, writeReason } from '../../src/report/status-throttle.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';

const base: NodeStatusDoc = {
  nodeName: 'n1',
  lastProbeTime: '2026-01-01T00:00:00Z',
  kernel: { release: '6.18', conntrackLoaded: true, notrackBackend: 'nftables', tableSource: 'procfs' },
  table: {
    count: 1000,
    max: 10000,
    buckets: 4096,
    usagePercent: 10,
    usage: '10%',
    fullest: { host: false, inode: 7, entries: 9000, usagePercent: 90, usage: '90%' },
  },
  counters: { drop: 0, earlyDrop: 0, insertFailed: 0, invalid: 5 },
  driftCount: 0,
  conditions: [{ type: 'Applied', status: 'True', reason: 'Applied', message: 'ok', lastTransitionTime: 't', observedGeneration: 1 }],
};
const at = 1_000_000;

const cases: Array<{ name: string; next: Partial<NodeStatusDoc>; after?: number; want: string | null }> = [
  { name: 'nothing new', next: { lastProbeTime: 'later' }, want: null },
  { name: 'a condition changes', next: { conditions: [{ ...base.conditions[0]!, status: 'False', reason: 'ApplyFailed' }] }, want: 'conditions' },
  { name: 'a condition message alone is not news', next: { conditions: [{ ...base.conditions[0]!, message: 'still ok' }] }, want: null },
  { name: 'drift appears', next: { driftCount: 1, drift: [{ key: 'k', desired: '1', actual: '2', since: 't' }] }, want: 'drift' },
  { name: 'usage moves 5 points', next: { table: { ...base.table!, usagePercent: 15 } }, want: 'usage' },
  { name: 'usage moves 4.9 points', next: { table: { ...base.table!, usagePercent: 14.9 } }, want: null },
  {
    name: "the fullest namespace's usage (the USAGE column) moves 5 points while the host's stays",
    next: { table: { ...base.table!, fullest: { host: false, inode: 7, entries: 9500, usagePercent: 95, usage: '95%' } } },
    want: 'usage',
  },
  { name: 'max raised (by kube-proxy, say)', next: { table: { ...base.table!, max: 20000 } }, want: 'table' },
  { name: 'drops rise', next: { counters: { ...base.counters, drop: 1 } }, want: 'counters' },
  { name: 'invalid rising is routine', next: { counters: { ...base.counters, invalid: 500 } }, want: null },
  { name: 'heartbeat after 5 minutes', next: {}, after: HEARTBEAT_MS, want: 'heartbeat' },
  { name: 'no heartbeat before', next: {}, after: HEARTBEAT_MS - 1, want: null },
];
for (const tc of cases) {
  test(`status write: ${tc.name}`, () => {
    assert.equal(writeReason({ status: base, at }, { ...base, ...tc.next }, at + (tc.after ?? 1000)), tc.want);
  });
}

test('the first status is always written', () => assert.equal(writeReason(null, base, at), 'first'));

test('a steady node writes at most 12 heartbeats an hour (target: 15)', () => {
  let last = { status: base, at: 0 };
  let writes = 0;
  for (let t = 30_000; t <= 3_600_000; t += 30_000) {
    if (writeReason(last, { ...base, lastProbeTime: String(t) }, t)) {
      writes++;
      last = { status: base, at: t };
    }
  }
  assert.equal(writes, 12);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFindings, chainLength, usagePercent, worstSeverity, type FindingFacts } from '../../src/report/findings.js';
import type { DropWindow } from '../../src/report/drops.js';

const quiet: DropWindow = { seconds: 2, tableFull: 0, insertionRace: 0, earlyDrop: 0, insertFailed: 0, clashResolved: 0 };
const win = (over: Partial<DropWindow>): DropWindow => ({ ...quiet, ...over });

const healthy: FindingFacts = {
  moduleLoaded: true,
  hostNetns: true,
  kubeProxyRunning: false,
  count: 1000,
  max: 262144,
  buckets: 262144,
  sinceBoot: { drop: 0, earlyDrop: 0, insertFailed: 0 },
  window: quiet,
  missingCounters: [],
  sysctls: { nf_conntrack_tcp_timeout_established: 600 },
  table: { total: 1000, tcp: 800, timeWait: 100, unreplied: 50, loopback: 10 },
};

const cases: Array<{ name: string; facts: Partial<FindingFacts>; ids: string[]; worst: string | null }> = [
  { name: 'healthy host', facts: {}, ids: [], worst: null },
  { name: 'module not loaded says only that', facts: { moduleLoaded: false, count: null, kubeProxyRunning: true }, ids: ['conntrack-not-loaded'], worst: 'info' },
  { name: 'usage 70% is a warning', facts: { count: 183501 }, ids: ['usage-high'], worst: 'warning' },
  { name: 'usage 69.9% is not', facts: { count: 183239 }, ids: [], worst: null },
  { name: 'usage 90% is critical', facts: { count: 235930, buckets: 1048576 }, ids: ['usage-critical'], worst: 'critical' },
  { name: 'custom thresholds', facts: { count: 131072, pressure: { warningPercent: 40, criticalPercent: 50 } }, ids: ['usage-critical'], worst: 'critical' },
  { name: 'chain length above 2', facts: { count: 140000, max: 1048576, buckets: 131072 }, ids: ['long-hash-chains'], worst: 'warning' },
  { name: 'chain length exactly 2 is fine', facts: { count: 131072, max: 1048576, buckets: 131072 }, ids: [], worst: null },
  { name: 'table-full drops in the window are critical', facts: { count: 262144, window: win({ tableFull: 3 }) }, ids: ['usage-critical', 'table-full-drops'], worst: 'critical' },
  { name: 'race drops on a nearly empty table are a warning of their own', facts: { window: win({ insertionRace: 4, insertFailed: 4 }) }, ids: ['insertion-race-drops'], worst: 'warning' },
  { name: 'early drops in the window', facts: { window: win({ earlyDrop: 9 }) }, ids: ['early-drops'], worst: 'warning' },
  { name: 'races the kernel resolved are information', facts: { window: win({ clashResolved: 236 }) }, ids: ['clashes-resolved'], worst: 'info' },
  { name: 'drops since boot only, none now: history, exit 0', facts: { sinceBoot: { drop: 12, earlyDrop: 0, insertFailed: 2 } }, ids: ['drops-since-boot'], worst: 'info' },
  { name: 'one sample only: totals are history, nothing judged', facts: { window: null, sinceBoot: { drop: 12, earlyDrop: 3, insertFailed: 0 } }, ids: ['drops-since-boot'], worst: 'info' },
  { name: 'a counter column the kernel renamed', facts: { missingCounters: ['insertFailed'] }, ids: ['counters-missing'], worst: 'warning' },
  { name: '5-day established default', facts: { sysctls: { nf_conntrack_tcp_timeout_established: 432000 } }, ids: ['established-timeout-default'], worst: 'warning' },
  { name: 'TIME_WAIT above half of TCP', facts: { table: { total: 1000, tcp: 800, timeWait: 401, unreplied: 0, loopback: 0 } }, ids: ['time-wait-heavy'], worst: 'warning' },
  { name: 'TIME_WAIT exactly half is fine', facts: { table: { total: 1000, tcp: 800, timeWait: 400, unreplied: 0, loopback: 0 } }, ids: [], worst: null },
  { name: 'UNREPLIED share', facts: { table: { total: 1000, tcp: 100, timeWait: 0, unreplied: 301, loopback: 0 } }, ids: ['unreplied-heavy'], worst: 'warning' },
  { name: 'loopback share', facts: { table: { total: 1000, tcp: 100, timeWait: 0, unreplied: 0, loopback: 201 } }, ids: ['loopback-heavy'], worst: 'info' },
  { name: 'shares ignored on a tiny table', facts: { table: { total: 10, tcp: 10, timeWait: 10, unreplied: 10, loopback: 10 } }, ids: [], worst: null },
  { name: 'kube-proxy present', facts: { kubeProxyRunning: true }, ids: ['kube-proxy-present'], worst: 'info' },
  { name: 'not in host namespace', facts: { hostNetns: false }, ids: ['not-host-netns'], worst: 'info' },
  { name: 'namespace unknown without root', facts: { hostNetns: null }, ids: ['netns-unknown'], worst: 'info' },
  { name: 'no table, no counters', facts: { table: null, sinceBoot: null, window: null, count: null }, ids: [], worst: null },
];

for (const tc of cases) {
  test(`findings: ${tc.name}`, () => {
    const findings = buildFindings({ ...healthy, ...tc.facts });
    assert.deepEqual(findings.map((f) => f.id), tc.ids);
    assert.equal(worstSeverity(findings), tc.worst);
    for (const f of findings) assert.ok(f.message.length > 20, `${f.id} has a readable message`);
  });
}

test('usage and chain length math', () => {
  assert.equal(usagePercent(50, 200), 25);
  assert.equal(usagePercent(null, 200), null);
  assert.equal(usagePercent(5, 0), null);
  assert.equal(usagePercent(-5, 200), null, 'a negative count is no usage');
  assert.equal(usagePercent(5, -200), null, 'a negative max is no usage');
  assert.equal(chainLength(262144, 262144), 2);
  assert.equal(chainLength(1, null), null);
});

test('findings name the numbers they are about', () => {
  const [f] = buildFindings({ ...healthy, count: 240000 });
  assert.match(f!.message, /91\.6% full \(240000 of 262144\)/);
});

test('the two kinds of drops say different things and name their own remedy', () => {
  const [full] = buildFindings({ ...healthy, count: 262144, window: win({ tableFull: 5 }) }).filter((f) => f.id === 'table-full-drops');
  const [race] = buildFindings({ ...healthy, count: 40, window: win({ insertionRace: 5, insertFailed: 5 }) }).filter((f) => f.id === 'insertion-race-drops');
  assert.match(full!.message, /5 packets .* in the last 2s .*100% full/);
  assert.match(full!.action!, /nf_conntrack_max/);
  assert.match(race!.message, /0% full/);
  assert.match(race!.message, /bigger table does not help/);
  assert.match(race!.action!, /NOTRACK DNS .*port 53/);
  assert.match(race!.action!, /single-request-reopen/);
  assert.match(race!.action!, /use-vc/);
});

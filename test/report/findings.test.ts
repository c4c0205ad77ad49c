import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildFindings, chainLength, CONNTRACK_NOT_LOADED, FINDING_RULES, usagePercent, worstSeverity, type FindingFacts } from '../../src/report/findings.js';
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
  {
    name: 'module not loaded says only that',
    facts: { moduleLoaded: false, count: null, kubeProxyRunning: true },
    ids: ['conntrack-not-loaded'],
    worst: 'info',
  },
  { name: 'usage 70% is a warning', facts: { count: 183501 }, ids: ['usage-high'], worst: 'warning' },
  { name: 'usage 69.9% is not', facts: { count: 183239 }, ids: [], worst: null },
  { name: 'usage 90% is critical', facts: { count: 235930, buckets: 1048576 }, ids: ['usage-critical'], worst: 'critical' },
  { name: 'custom thresholds', facts: { count: 131072, pressure: { warningPercent: 40, criticalPercent: 50 } }, ids: ['usage-critical'], worst: 'critical' },
  { name: 'chain length above 2', facts: { count: 140000, max: 1048576, buckets: 131072 }, ids: ['long-hash-chains'], worst: 'warning' },
  { name: 'chain length exactly 2 is fine', facts: { count: 131072, max: 1048576, buckets: 131072 }, ids: [], worst: null },
  {
    name: 'table-full drops in the window are critical',
    facts: { count: 262144, window: win({ tableFull: 3 }) },
    ids: ['usage-critical', 'table-full-drops'],
    worst: 'critical',
  },
  {
    name: 'race drops on a nearly empty table are a warning of their own',
    facts: { window: win({ insertionRace: 4, insertFailed: 4 }) },
    ids: ['insertion-race-drops'],
    worst: 'warning',
  },
  { name: 'early drops in the window', facts: { window: win({ earlyDrop: 9 }) }, ids: ['early-drops'], worst: 'warning' },
  { name: 'races the kernel resolved are information', facts: { window: win({ clashResolved: 236 }) }, ids: ['clashes-resolved'], worst: 'info' },
  {
    name: 'drops since boot only, none now: history, exit 0',
    facts: { sinceBoot: { drop: 12, earlyDrop: 0, insertFailed: 2 } },
    ids: ['drops-since-boot'],
    worst: 'info',
  },
  {
    name: 'one sample only: totals are history, nothing judged',
    facts: { window: null, sinceBoot: { drop: 12, earlyDrop: 3, insertFailed: 0 } },
    ids: ['drops-since-boot'],
    worst: 'info',
  },
  { name: 'a counter column the kernel renamed', facts: { missingCounters: ['insertFailed'] }, ids: ['counters-missing'], worst: 'warning' },
  {
    name: '5-day established default',
    facts: { sysctls: { nf_conntrack_tcp_timeout_established: 432000 } },
    ids: ['established-timeout-default'],
    worst: 'warning',
  },
  {
    name: 'TIME_WAIT above half of TCP',
    facts: { table: { total: 1000, tcp: 800, timeWait: 401, unreplied: 0, loopback: 0 } },
    ids: ['time-wait-heavy'],
    worst: 'warning',
  },
  { name: 'TIME_WAIT exactly half is fine', facts: { table: { total: 1000, tcp: 800, timeWait: 400, unreplied: 0, loopback: 0 } }, ids: [], worst: null },
  {
    name: 'UNREPLIED share',
    facts: { table: { total: 1000, tcp: 100, timeWait: 0, unreplied: 301, loopback: 0 } },
    ids: ['unreplied-heavy'],
    worst: 'warning',
  },
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
    assert.deepEqual(
      findings.map((f) => f.id),
      tc.ids,
    );
    assert.equal(worstSeverity(findings), tc.worst);
  });
}

// Each rule on its own: facts on both sides of its threshold, and the message each
// firing gives, written out (the cases above check ids and severity). Every rule of the
// table needs a row here, so a new rule cannot come without its cases.
const shares = (over: Partial<NonNullable<FindingFacts['table']>>): Partial<FindingFacts> => ({
  table: { total: 1000, tcp: 800, timeWait: 0, unreplied: 0, loopback: 0, ...over },
});
const ruleCases: Record<string, { fires: Array<[Partial<FindingFacts>, string]>; quiet: Partial<FindingFacts>[] }> = {
  'conntrack-not-loaded': {
    fires: [[{ moduleLoaded: false }, 'nf_conntrack is not loaded: this host tracks no connections, so its table cannot fill. Nothing to do.']],
    quiet: [{}],
  },
  'not-host-netns': {
    fires: [
      [
        { hostNetns: false },
        "Not in the host network namespace: count, timeouts and the table shown are this namespace's own; nf_conntrack_max and buckets are global and read-only here.",
      ],
    ],
    quiet: [{}, { hostNetns: null }],
  },
  'netns-unknown': {
    fires: [[{ hostNetns: null }, 'Could not tell whether this is the host network namespace (reading /proc/1/ns/net needs root).']],
    quiet: [{}, { hostNetns: false }],
  },
  'usage-critical': {
    fires: [
      [{ count: 235930 }, 'The table is 90% full (235930 of 262144): new connections are dropped when it reaches 100%.'],
      [{ count: 300000 }, 'The table is 114.4% full (300000 of 262144): new connections are dropped when it reaches 100%.'],
      [
        { count: 10, max: 20, pressure: { warningPercent: 10, criticalPercent: 50 } },
        'The table is 50% full (10 of 20): new connections are dropped when it reaches 100%.',
      ],
    ],
    quiet: [{ count: 235929 }, { max: 0 }, { count: null }],
  },
  'usage-high': {
    fires: [
      [{ count: 183501 }, 'The table is 70% full (183501 of 262144).'],
      [{ count: 235929 }, 'The table is 90% full (235929 of 262144).'],
    ],
    quiet: [{ count: 183500 }, { count: 235930 }, { max: null }],
  },
  'long-hash-chains': {
    fires: [
      [{ count: 131073, buckets: 131072 }, 'Average hash chain length is 2.0 (2 x 131073 entries / 131072 buckets): lookups walk long lists on every packet.'],
    ],
    quiet: [{ count: 131072, buckets: 131072 }, { buckets: 0 }, { count: null }],
  },
  'table-full-drops': {
    fires: [
      [
        { window: win({ tableFull: 1 }) },
        'The table is full: 1 packets of new connections were dropped in the last 2s because no entry could be allocated (the table is 0.4% full; "nf_conntrack: table full, dropping packet").',
      ],
    ],
    quiet: [{}, { window: null }, { window: win({ insertionRace: 3, earlyDrop: 3 }) }],
  },
  'insertion-race-drops': {
    fires: [
      [
        { window: win({ insertionRace: 1, insertFailed: 1 }) },
        '1 packets were dropped in the last 2s because two packets of one new flow raced to insert it and the kernel could not resolve the clash (drop and insert_failed rose together; the table is 0.4% full): the UDP/DNS race behind 5-second DNS lookups. A bigger table does not help.',
      ],
    ],
    quiet: [{}, { window: null }, { window: win({ tableFull: 3, insertFailed: 3 }) }],
  },
  'early-drops': {
    fires: [[{ window: win({ earlyDrop: 1 }) }, '1 entries were evicted early in the last 2s to make room: the table is at its limit.']],
    quiet: [{}, { window: null }],
  },
  'clashes-resolved': {
    fires: [
      [
        { window: win({ clashResolved: 1 }) },
        'The kernel resolved 1 insertion races in the last 2s (clash_resolve): packets of one new flow arrived together and none was dropped. Nothing to do.',
      ],
    ],
    quiet: [{}, { window: win({ clashResolved: null }) }, { window: null }],
  },
  'drops-since-boot': {
    fires: [
      [
        { sinceBoot: { drop: 1, earlyDrop: 0, insertFailed: 0 } },
        'History: since boot the kernel dropped 1 packets of new connections (0 insert_failed, 0 early drops). Judged above in the last 2s, not from these totals.',
      ],
      [
        { sinceBoot: { drop: 0, earlyDrop: 1, insertFailed: 0 }, window: null },
        'History: since boot the kernel dropped 0 packets of new connections (0 insert_failed, 1 early drops). Only one sample was taken: whether it happens now is not known yet.',
      ],
    ],
    quiet: [{}, { sinceBoot: null }, { sinceBoot: { drop: 0, earlyDrop: 0, insertFailed: 5 } }],
  },
  'counters-missing': {
    fires: [
      [
        { missingCounters: ['clashResolve'] },
        "This kernel's conntrack statistics have no clashResolve column: a full table or an insertion race cannot be told apart or alerted on here.",
      ],
    ],
    quiet: [{}],
  },
  'established-timeout-default': {
    fires: [
      [
        { sysctls: { nf_conntrack_tcp_timeout_established: 432000 } },
        'nf_conntrack_tcp_timeout_established is still the 5-day kernel default: flows whose peers vanished without FIN/RST stay for 5 days.',
      ],
    ],
    quiet: [{}, { sysctls: { nf_conntrack_tcp_timeout_established: 431999 } }, { sysctls: {} }],
  },
  'time-wait-heavy': {
    fires: [
      [shares({ timeWait: 401 }), '50.1% of TCP entries are TIME_WAIT (401 of 800): many short connections, e.g. a proxy to upstreams without keep-alive.'],
    ],
    quiet: [shares({ timeWait: 400 }), shares({ tcp: 0 }), shares({ timeWait: 99, tcp: 99, total: 99 }), { table: null }],
  },
  'unreplied-heavy': {
    fires: [[shares({ unreplied: 301 }), '30.1% of entries are UNREPLIED (301 of 1000): a scan or flood, or UDP without answers.']],
    quiet: [shares({ unreplied: 300 }), shares({ unreplied: 99, total: 99 }), { table: null }],
  },
  'loopback-heavy': {
    fires: [[shares({ loopback: 201 }), '20.1% of entries are loopback flows (201 of 1000): they need no NAT or stateful filtering.']],
    quiet: [shares({ loopback: 200 }), shares({ loopback: 99, total: 99 }), { table: null }],
  },
  'kube-proxy-present': {
    fires: [
      [
        { kubeProxyRunning: true },
        'kube-proxy runs here: at start it rewrites nf_conntrack_max (raised only), the hashsize, and the tcp established and close_wait timeouts from its own configuration.',
      ],
    ],
    quiet: [{}],
  },
};

const allRules = [CONNTRACK_NOT_LOADED, ...FINDING_RULES];

test('finding rules: one id each, and every rule has cases', () => {
  const ids = allRules.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  assert.deepEqual([...ids].sort(), Object.keys(ruleCases).sort());
});

for (const rule of allRules) {
  const { fires, quiet } = ruleCases[rule.id] ?? { fires: [], quiet: [] };
  fires.forEach(([facts, message], n) => {
    test(`finding rule ${rule.id} fires (${n + 1})`, () => {
      const found = rule.check({ ...healthy, ...facts });
      assert.ok(found, `${rule.id} on ${JSON.stringify(facts)}`);
      assert.equal(found.message, message);
    });
  });
  quiet.forEach((facts, n) => {
    test(`finding rule ${rule.id} stays quiet (${n + 1})`, () => {
      assert.equal(rule.check({ ...healthy, ...facts }), undefined, `${rule.id} on ${JSON.stringify(facts)}`);
    });
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

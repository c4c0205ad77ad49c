// `kubectl conntrack status`'s rows from ConntrackStatus objects as the API
// returns them: the forecast fields when the agent reports them, the
// fallbacks when it does not, and --check-ready's verdict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAgentsReady, fleetRow, fleetRows, STALE_AFTER_MS, type FleetRow } from '../../src/report/fleet-status.js';
import { compactCount, namespaceLabel, renderFleetText, renderReadinessText, shortDuration } from '../../src/report/fleet-text.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const ago = (s: number) => new Date(NOW - s * 1000).toISOString();
const cond = (type: string, status: string, reason = type, message = '') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: ago(600),
  observedGeneration: 1,
});

/** A ConntrackStatus as the API returns it; `status` parts replace the defaults. */
function object(name: string, status: Record<string, unknown> = {}): unknown {
  return {
    apiVersion: 'conntrack.io/v1alpha1',
    kind: 'ConntrackStatus',
    metadata: { name },
    status: {
      nodeName: name,
      lastProbeTime: ago(20),
      table: { count: 1000, max: 262144, buckets: 65536, usagePercent: 0.38, usage: '0%' },
      appliedPolicy: { name: 'web', policies: [{ name: 'web', generation: 1 }], mode: 'Enforce' },
      conditions: [cond('Ready', 'True', 'Ready')],
      ...status,
    },
  };
}

const table = (extra: Record<string, unknown>) => ({ count: 1000, max: 262144, buckets: 65536, usagePercent: 0.38, usage: '0%', ...extra });

const rowCases: Array<{ name: string; object: unknown; want: Partial<FleetRow> }> = [
  {
    name: "the agent's fullest namespace, forecast and drops now",
    object: object('a', {
      table: table({
        fullest: { entries: 250000, usagePercent: 95.4, host: false, inode: 4026532175, podUid: 'u1', podNamespace: 'shop', podName: 'checkout-1' },
        growthPerSecond: 850.5,
        secondsToFull: 14,
        forecastNamespace: { host: false, inode: 4026532175, podUid: 'u1', podNamespace: 'shop', podName: 'checkout-1' },
        dropsNow: 37,
      }),
      conditions: [cond('Ready', 'False', 'FillingUp', 'full in 14s'), cond('FillingUp', 'True')],
    }),
    want: {
      usagePercent: 95.4,
      entries: 250000,
      max: 262144,
      fullest: { host: false, inode: 4026532175, podUid: 'u1', podNamespace: 'shop', podName: 'checkout-1' },
      dropsNow: 37,
      forecast: {
        secondsToFull: 14,
        growthPerSecond: 850.5,
        fillingUp: true,
        namespace: { host: false, inode: 4026532175, podUid: 'u1', podNamespace: 'shop', podName: 'checkout-1' },
      },
      ready: { status: 'False', reason: 'FillingUp', message: 'full in 14s' },
    },
  },
  {
    name: "the agent names the host's table as the fullest",
    object: object('b', { table: table({ fullest: { entries: 1000, usagePercent: 0.38, host: true, pid: 1 } }) }),
    want: { usagePercent: 0.38, entries: 1000, fullest: { host: true } },
  },
  {
    name: "no forecast fields: a pod's namespace fuller than the host's table is the fullest",
    object: object('c', {
      namespaces: {
        count: 3,
        top: [{ inode: 7, entries: 200000, usagePercent: 76.3, podUid: 'u2' }],
        full: [{ inode: 7, entries: 262144, usagePercent: 100, dropsRising: 12 }],
        pressure: [],
      },
    }),
    want: {
      usagePercent: 76.3,
      entries: 200000,
      fullest: { host: false, inode: 7, podUid: 'u2' },
      dropsNow: 12,
      forecast: { secondsToFull: null, growthPerSecond: null, fillingUp: false, namespace: null },
    },
  },
  {
    name: "no forecast fields: the top namespace no fuller than the host's table is the host's own",
    object: object('d', { namespaces: { count: 1, top: [{ inode: 4026531840, entries: 1000, usagePercent: 0.38 }], full: [], pressure: [] } }),
    want: { usagePercent: 0.38, entries: 1000, fullest: { host: true }, dropsNow: null },
  },
  {
    name: 'an agent that has not read the table yet (no table, no conditions)',
    object: object('e', { table: undefined, conditions: [], appliedPolicy: undefined, lastProbeTime: ago(STALE_AFTER_MS / 1000 + 1) }),
    want: { usagePercent: null, entries: null, max: null, fullest: null, policy: null, mode: null, ready: { status: 'Unknown' }, stale: true },
  },
  {
    name: 'fields of the wrong type are not read (an older or newer agent)',
    object: object('f', { table: table({ secondsToFull: 'soon', dropsNow: -0 / 0, fullest: 'host' }), conditions: 'Ready' }),
    want: {
      usagePercent: 0.38,
      dropsNow: null,
      forecast: { secondsToFull: null, growthPerSecond: null, fillingUp: false, namespace: null },
      ready: { status: 'Unknown' },
    },
  },
  {
    name: 'a fresh status is not stale',
    object: object('g', { lastProbeTime: ago(STALE_AFTER_MS / 1000 - 1) }),
    want: { stale: false, policy: 'web', mode: 'Enforce' },
  },
];
for (const tc of rowCases) {
  test(`fleetRow: ${tc.name}`, () => {
    const row = fleetRow(tc.object, NOW);
    const picked = Object.fromEntries(Object.keys(tc.want).map((k) => [k, row[k as keyof FleetRow]]));
    assert.deepEqual(picked, tc.want);
  });
}

test('fleetRows: fullest first, unknown usage last, ties by node name', () => {
  const rows = fleetRows(
    [
      object('n-low'),
      object('n-unknown', { table: undefined }),
      object('n-full', { table: table({ fullest: { entries: 262144, usagePercent: 100, host: true } }) }),
      object('a-low'),
      object('n-mid', { table: table({ count: 131072, usagePercent: 50 }) }),
    ],
    NOW,
  );
  assert.deepEqual(
    rows.map((r) => r.node),
    ['n-full', 'n-mid', 'a-low', 'n-low', 'n-unknown'],
  );
});

test('the text table: one row per node, the columns a fleet needs', () => {
  const rows = fleetRows(
    rowCases.slice(0, 5).map((tc) => tc.object),
    NOW,
  );
  assert.equal(
    renderFleetText(rows, NOW),
    [
      'NODE   USAGE   ENTRIES     FULLEST           DROPS   FORECAST      POLICY   READY               PROBED',
      'a      95%     250k/262k   shop/checkout-1   37      full in 14s   web      False (FillingUp)   20s ago',
      'c      76%     200k/262k   pod u2            12      -             web      True                20s ago',
      'b      0%      1000/262k   host              -       -             web      True                20s ago',
      'd      0%      1000/262k   host              -       -             web      True                20s ago',
      'e      -       -           -                 -       -             <none>   Unknown             10m1s ago, stale',
      '',
    ].join('\n'),
  );
  assert.equal(renderFleetText([], NOW), 'No ConntrackStatus objects: no agent has reported yet.\n');
});

test('cells: forecast, DryRun, compact counts, durations, namespace names', () => {
  const row = fleetRow(object('x', { table: table({ growthPerSecond: 12345 }), appliedPolicy: { name: 'p', policies: [], mode: 'DryRun' } }), NOW);
  assert.match(renderFleetText([row], NOW), /\+12k\/s\s+p \(DryRun\)/);
  const other = fleetRow(
    object('z', {
      table: table({ fullest: { entries: 9, usagePercent: 40, host: true }, secondsToFull: 90, forecastNamespace: { host: false, podUid: 'u9' } }),
    }),
    NOW,
  );
  assert.match(renderFleetText([other], NOW), /full in 1m30s \(pod u9\)/);
  const filling = fleetRow(object('y', { conditions: [cond('FillingUp', 'True')] }), NOW);
  assert.match(renderFleetText([filling], NOW), /filling up/);
  assert.deepEqual([0, 9999, 10_000, 262_144, 1_048_576].map(compactCount), ['0', '9999', '10k', '262k', '1.0M']);
  assert.deepEqual([0, 59, 60, 250, 3600, 3660, 86_400, 90_000].map(shortDuration), ['0s', '59s', '1m', '4m10s', '1h', '1h1m', '1d', '1d1h']);
  assert.deepEqual(
    [
      null,
      { host: true },
      { host: false, inode: 5 },
      { host: false, inode: 5, podUid: 'u' },
      { host: false, podNamespace: 'a', podName: 'b', podUid: 'u' },
    ].map(namespaceLabel),
    ['-', 'host', 'netns 5', 'pod u', 'a/b'],
  );
});

const started = (s: number) => NOW - s * 1000;
const checkCases: Array<{
  name: string;
  agents: Parameters<typeof checkAgentsReady>[0];
  statuses: unknown[];
  ok: boolean;
  problems: string[];
  unscheduled?: string[];
}> = [
  {
    name: 'every scheduled agent Ready, written since its pod started',
    agents: [
      { pod: 'ns/a-1', nodeName: 'a', startedAtMs: started(60) },
      { pod: 'ns/a-2', nodeName: 'b', startedAtMs: started(60) },
    ],
    statuses: [object('a'), object('b'), object('other-node', { conditions: [cond('Ready', 'False', 'TableFull')] })],
    ok: true,
    problems: [],
  },
  {
    name: 'one node not Ready: named, with the reason and message',
    agents: [
      { pod: 'ns/a-1', nodeName: 'a', startedAtMs: started(60) },
      { pod: 'ns/a-2', nodeName: 'b', startedAtMs: started(60) },
    ],
    statuses: [object('a'), object('b', { conditions: [cond('Ready', 'False', 'ApplyFailed', 'nf_conntrack_max: EROFS')] })],
    ok: false,
    problems: ['node b: not Ready (False, ApplyFailed: nf_conntrack_max: EROFS) (agent pod ns/a-2)'],
  },
  {
    name: 'an agent that never reported',
    agents: [{ pod: 'ns/a-1', nodeName: 'a' }],
    statuses: [],
    ok: false,
    problems: ['node a: no ConntrackStatus: its agent has not reported (agent pod ns/a-1)'],
  },
  {
    name: 'a Ready status left by an earlier agent, none since this pod started',
    agents: [{ pod: 'ns/a-1', nodeName: 'a', startedAtMs: started(10) }],
    statuses: [object('a')],
    ok: false,
    problems: [`node a: its ConntrackStatus was last written at ${ago(20)}, before the agent pod started: the agent has not reported since (agent pod ns/a-1)`],
  },
  {
    name: 'an unscheduled pod is listed, not judged',
    agents: [{ pod: 'ns/a-1', nodeName: 'a' }, { pod: 'ns/pending' }],
    statuses: [object('a')],
    ok: true,
    problems: [],
    unscheduled: ['ns/pending'],
  },
  { name: 'no agent pod at all proves nothing', agents: [], statuses: [object('a')], ok: false, problems: [] },
];
for (const tc of checkCases) {
  test(`checkAgentsReady: ${tc.name}`, () => {
    const check = checkAgentsReady(tc.agents, fleetRows(tc.statuses, NOW));
    assert.deepEqual([check.ok, check.problems, check.unscheduled], [tc.ok, tc.problems, tc.unscheduled ?? []]);
  });
}

test('the verdict under the table', () => {
  assert.equal(renderReadinessText({ ok: true, problems: [], ready: ['a', 'b'], unscheduled: [] }), 'READY: all 2 agent node(s)\n');
  assert.equal(
    renderReadinessText({ ok: false, problems: ['node b: not Ready (False)'], ready: ['a'], unscheduled: ['ns/p'] }),
    'node b: not Ready (False)\nnot scheduled yet (not judged): ns/p\nNOT READY: 1 of 2 agent node(s)\n',
  );
  assert.equal(renderReadinessText({ ok: false, problems: [], ready: [], unscheduled: [] }), 'NOT READY: no agent pod is scheduled on a node\n');
});

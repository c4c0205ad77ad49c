// Prevention made visible: the fullest namespace (host or pod) drives USAGE,
// Pressure, TableFull and Ready; the watch's forecast becomes status.table
// fields, the FillingUp condition and its events, before the first drop.
// Every expected text and number below is written out by hand.
import { nodeCidrs } from '../../src/policy/cluster-cidrs.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { Forecast, WatchView } from '../../src/report/forecast.js';
import { netnsName, type NetnsNaming } from '../../src/report/netns-name.js';
import { netnsDrops } from '../../src/report/netns-status.js';
import { podEventsForPass } from '../../src/report/netns-events.js';
import { eventsForPass } from '../../src/report/node-events.js';
import { buildNodeStatus, type NodeStatusInputs, type PassOutcome } from '../../src/report/node-status.js';
import { NodeStatus, type NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { censusOf, censusRow } from '../support/census.js';
import { QUIET, hostSnapshot, passInputs, reconciledPass } from '../support/node-status-inputs.js';

const MAX = 65536;
const HOST = 4026531833;
const POD_NS = 4026532174;
const POD = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';

test('a namespace is named by its pod, else its inode, else a process in it', () => {
  const cases: Array<[NetnsNaming, string]> = [
    [{ host: false, inode: POD_NS, pid: 812, podUid: POD, podNamespace: 'default', podName: 'web-7f9c' }, 'pod default/web-7f9c (netns 4026532174)'],
    [{ host: false, inode: null, pid: 812, podUid: POD, podNamespace: 'default', podName: 'web-7f9c' }, 'pod default/web-7f9c'],
    [{ host: false, inode: POD_NS, pid: 812, podUid: POD }, `pod UID ${POD} (netns 4026532174)`],
    [{ host: false, inode: POD_NS, pid: 812, podUid: null }, 'netns 4026532174'],
    [{ host: false, inode: null, pid: 812, podUid: null }, 'the namespace of pid 812'],
    [{ host: true, inode: HOST, pid: 1 }, 'the host namespace (netns 4026531833)'],
    [{ host: true, inode: null, pid: 1 }, 'the host namespace'],
    [{ host: false }, 'a namespace that could not be identified'],
  ];
  for (const [n, want] of cases) assert.equal(netnsName(n), want);
});

const snapshot = (count: number, max = MAX) => hostSnapshot({ count, max, buckets: 65536, memTotalBytes: 64 * 2 ** 30 });

const row = (over: Partial<NetnsCensusRow>): NetnsCensusRow =>
  censusRow({ key: POD_NS + 1, inode: POD_NS, pid: 812, counters: { drop: 0, insertFailed: 0, earlyDrop: 0 }, podUid: POD, ...over });
const hostRow = (entries: number) => row({ key: HOST + 1, inode: HOST, pid: 1, host: true, ours: true, entries, podUid: null });
const census = (rows: NetnsCensusRow[]) => censusOf(rows, { hostKey: HOST + 1, processes: 40 });
/** status.table.fullest for the pod's namespace; each case adds its entries and usage. */
const podFullest = { host: false, pid: 812, inode: POD_NS, podUid: POD, podNamespace: 'default', podName: 'web-7f9c' };
const podNames = (uid: string) => (uid === POD ? { namespace: 'default', name: 'web-7f9c' } : undefined);

function policy(spec: Record<string, unknown>, facts = { memTotalBytes: 64 * 2 ** 30, slabObjectSize: 256, conntrackCount: 20_000, currentMax: MAX }) {
  const parsed = validatePolicyObjects(
    [{ object: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name: 'web', generation: 1 }, spec }, document: 1 }],
    't',
  );
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  return effectivePolicy(parsed.policies, {}, facts);
}

function reconciled(spec: Record<string, unknown>, mode: 'Enforce' | 'DryRun' = 'Enforce'): PassOutcome {
  return reconciledPass(policy(spec), { web: 1 }, { mode });
}

const autoSizeRoom = { table: { autoSize: { memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: 65536, maxMax: 1048576 } } };
const autoSizeCeiling = { table: { autoSize: { memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: 65536, maxMax: 65536 } } };
const timeoutsOnly = { timeouts: { tcp: { establishedSeconds: 600 } } };

const forecast = (ratePerSecond: number, secondsToFull: number | null, level: number): Forecast => ({
  ratePerSecond,
  level,
  secondsToFull,
  windowSeconds: 10,
  samples: 11,
});
const podRef = { key: 4026532175, inode: POD_NS, pid: 812, host: false, podUid: POD };
const hostRef = { key: 4026531844, inode: HOST, pid: 1, host: true, podUid: null };
const watch = (over: Partial<WatchView> & Pick<WatchView, 'focus'>): WatchView => ({ filling: false, horizonSeconds: 60, atMs: 0, ...over });

function inputs(over: Partial<NodeStatusInputs>): NodeStatusInputs {
  return passInputs({
    snapshot: snapshot(10),
    outcome: reconciled(autoSizeRoom),
    cidrs: nodeCidrs({ serviceCidrs: [], podCidrs: [] }, null, false),
    baseline: { values: {}, notrackOwned: false },
    ...over,
  });
}

/** The case: a pod's namespace at max and dropping while the host holds 10 entries. */
const before = census([hostRow(10), row({ entries: 60_000, counters: { drop: 100, insertFailed: 0, earlyDrop: 0 } })]);
const podFull = census([hostRow(10), row({ entries: MAX, counters: { drop: 51_739, insertFailed: 0, earlyDrop: 0 } })]);

interface Case {
  name: string;
  over: Partial<NodeStatusInputs>;
  /** Condition type -> "status/reason: message" (message only where given). */
  conditions: Record<string, string>;
  table?: Partial<NonNullable<NodeStatusDoc['table']>>;
}

const cases: Case[] = [
  {
    name: 'a pod namespace full and dropping while the host reads 0%: Ready False, TableFull names it, Pressure by it, USAGE 100%',
    over: { namespaces: { census: podFull, previousDrops: netnsDrops(before), podNames } },
    conditions: {
      Ready: 'False/TableFull',
      TableFull:
        "True/NamespaceDropping: A network namespace's table is full: pod default/web-7f9c (netns 4026532174) dropped 51639 packets of new connections in the last 30s because its table is full.",
      Pressure:
        "True/Critical: The fullest network namespace, pod default/web-7f9c (netns 4026532174), is 100% full (65536 of 65536; the host's own table 0%); at 100% its new connections are dropped.",
      InsertionRace: 'False/NoRaceDrops',
      FillingUp: 'Unknown/NoForecast',
    },
    table: {
      count: 10,
      usage: '0%',
      fullest: { ...podFullest, entries: MAX, usagePercent: 100, usage: '100%' },
      dropsNow: 51_639,
    },
  },
  {
    name: 'the host dropping and a pod too: the host leads, the pod is named after it; dropsNow sums both',
    over: { drops: { window: { ...QUIET, tableFull: 541 }, kernelLoggedFull: false }, namespaces: { census: podFull, previousDrops: netnsDrops(before) } },
    conditions: {
      TableFull: `True/Dropping: The table is full: 541 packets of new connections were dropped in the last 30s because no entry could be allocated. Also: pod UID ${POD} (netns 4026532174) dropped 51639 packets of new connections in the last 30s because its table is full.`,
    },
    table: { dropsNow: 541 + 51_639 },
  },
  {
    name: 'first pass: drops not judged, dropsNow absent; the fullest is still known',
    over: { drops: { window: null, kernelLoggedFull: false }, namespaces: { census: podFull, previousDrops: null, podNames } },
    conditions: { TableFull: 'Unknown/FirstSample', Ready: 'True/Ready', Pressure: 'True/Critical' },
    table: {
      dropsNow: undefined,
      fullest: { ...podFullest, entries: MAX, usagePercent: 100, usage: '100%' },
    },
  },
  {
    name: 'a pod at 92% on a node whose policy says critical at 95: warning, not critical',
    over: {
      outcome: reconciled({ ...timeoutsOnly, pressure: { warningPercent: 80, criticalPercent: 95 } }),
      namespaces: { census: census([hostRow(10), row({ entries: 60_293 })]), previousDrops: null, podNames },
    },
    conditions: {
      Pressure: "True/Warning: The fullest network namespace, pod default/web-7f9c (netns 4026532174), is 92% full (60293 of 65536; the host's own table 0%).",
    },
    table: {
      fullest: { ...podFullest, entries: 60_293, usagePercent: 92, usage: '92%' },
    },
  },
  {
    name: 'without a census the fullest is the host from its own count; the wording is the one it always had',
    over: { snapshot: snapshot(50_000) },
    conditions: { Pressure: 'True/Warning: The table is 76.3% full (50000 of 65536).' },
    table: { fullest: { host: true, inode: HOST, entries: 50_000, usagePercent: 76.3, usage: '76%' } },
  },
  {
    name: 'filling up in a pod, autoSize has room: full in ~38 s at +1,200 entries/s, and it says autoSize grows max',
    over: {
      namespaces: { census: census([hostRow(10), row({ entries: 20_000 })]), previousDrops: null, podNames },
      watch: watch({ filling: true, focus: { ns: podRef, entries: 20_000, forecast: forecast(1200, 38.2, 20_000) } }),
    },
    conditions: {
      FillingUp:
        'True/FillingUp: Full in ~38 s at +1,200 entries/s in pod default/web-7f9c (netns 4026532174), before any drop: autoSize is growing max (now 65,536, up to its ceiling of 1,048,576 entries).',
      Ready: 'True/Ready',
      TableFull: 'False/NotDropping',
    },
    table: {
      growthPerSecond: 1200,
      secondsToFull: 38,
      forecastNamespace: { host: false, pid: 812, inode: POD_NS, podUid: POD, podNamespace: 'default', podName: 'web-7f9c' },
    },
  },
  {
    name: 'filling up in the host namespace with autoSize at its ceiling',
    over: {
      outcome: reconciled(autoSizeCeiling),
      watch: watch({ filling: true, focus: { ns: hostRef, entries: 40_000, forecast: forecast(812.46, 31.6, 40_000) } }),
    },
    conditions: {
      FillingUp:
        'True/FillingUp: Full in ~32 s at +812 entries/s in the host namespace (netns 4026531833), before any drop: autoSize is at its ceiling (65,536 entries: the memory budget or maxMax): track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts).',
    },
    table: { growthPerSecond: 812.5, secondsToFull: 32, forecastNamespace: { host: true, pid: 1, inode: HOST } },
  },
  {
    name: 'filling up without autoSize',
    over: {
      outcome: reconciled(timeoutsOnly),
      watch: watch({ filling: true, focus: { ns: hostRef, entries: 40_000, forecast: forecast(1000, 25.5, 40_000) } }),
    },
    conditions: {
      FillingUp:
        'True/FillingUp: Full in ~26 s at +1,000 entries/s in the host namespace (netns 4026531833), before any drop: no autoSize: max stays at 65,536; set table.autoSize or a larger table.max, or track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts).',
    },
  },
  {
    name: 'filling up with autoSize in DryRun: nothing grows',
    over: {
      outcome: reconciled(autoSizeRoom, 'DryRun'),
      watch: watch({ filling: true, focus: { ns: hostRef, entries: 40_000, forecast: forecast(1000, 25, 40_000) } }),
    },
    conditions: {
      FillingUp:
        'True/FillingUp: Full in ~25 s at +1,000 entries/s in the host namespace (netns 4026531833), before any drop: autoSize is in DryRun here and grows nothing: track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts).',
    },
  },
  {
    name: 'filling up with no policy at all',
    over: { outcome: { kind: 'no-policy' }, watch: watch({ filling: true, focus: { ns: hostRef, entries: 40_000, forecast: forecast(1000, 25, 40_000) } }) },
    conditions: {
      FillingUp:
        'True/FillingUp: Full in ~25 s at +1,000 entries/s in the host namespace (netns 4026531833), before any drop: no policy selects this node, so nothing grows max (65,536): track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts).',
    },
  },
  {
    name: 'held on by the hysteresis while the latest forecast no longer says when',
    over: { watch: watch({ filling: true, focus: { ns: hostRef, entries: 40_000, forecast: forecast(300, null, 40_000) } }) },
    conditions: {
      FillingUp:
        'True/FillingUp: Filling up at +300 entries/s in the host namespace (netns 4026531833) (forecast full within 60 s a moment ago; this clears once the forecast stays beyond 120 s), before any drop: autoSize is growing max (now 65,536, up to its ceiling of 1,048,576 entries).',
    },
    table: { growthPerSecond: 300, secondsToFull: undefined },
  },
  {
    name: 'a forecast beyond the horizon: not filling, and it says when',
    over: { watch: watch({ focus: { ns: hostRef, entries: 5_000, forecast: forecast(200, 302.7, 5_000) } }) },
    conditions: {
      FillingUp: 'False/NotFilling: Not filling up within the 60 s horizon: the host namespace (netns 4026531833) would be full in ~303 s at +200 entries/s.',
    },
    table: { growthPerSecond: 200, secondsToFull: 303 },
  },
  {
    name: 'an emptying table: not filling',
    over: { watch: watch({ focus: { ns: hostRef, entries: 5_000, forecast: forecast(-45, null, 5_000) } }) },
    conditions: {
      FillingUp:
        'False/NotFilling: Not filling up: the host namespace (netns 4026531833) holds 5,000 entries and changes by -45 entries/s, no trend that reaches max.',
    },
    table: { growthPerSecond: -45, secondsToFull: undefined },
  },
  {
    name: 'the watch has sampled but has no forecast yet: Unknown, and no forecast fields',
    over: { watch: watch({ focus: { ns: hostRef, entries: 5_000, forecast: null } }) },
    conditions: {
      FillingUp:
        'Unknown/NoForecast: No forecast yet: the watch samples the fullest network namespaces about once a second and forecasts after a few seconds of them.',
    },
    table: { growthPerSecond: undefined, secondsToFull: undefined, forecastNamespace: undefined },
  },
];

for (const c of cases) {
  test(`status: ${c.name}`, () => {
    const { status } = buildNodeStatus(inputs(c.over));
    NodeStatus.parse(status);
    const got = Object.fromEntries(status.conditions.map((x) => [x.type, x]));
    for (const [type, want] of Object.entries(c.conditions)) {
      const x = got[type]!;
      assert.equal(want.includes(': ') ? `${x.status}/${x.reason}: ${x.message}` : `${x.status}/${x.reason}`, want, type);
    }
    for (const [k, v] of Object.entries(c.table ?? {})) assert.deepEqual(status.table?.[k as keyof NonNullable<NodeStatusDoc['table']>], v, `table.${k}`);
  });
}

const fillingPod = (filling: boolean, namesKnown = true) =>
  inputs({
    namespaces: { census: census([hostRow(10), row({ entries: 20_000 })]), previousDrops: null, ...(namesKnown ? { podNames } : {}) },
    watch: watch({ filling, focus: { ns: podRef, entries: 20_000, forecast: forecast(1200, filling ? 38 : 400, 20_000) } }),
  });

test('events: ConntrackTableFillingUp once per turn-on, on the Node and on the pod filling up; again after it turned off', () => {
  const off = buildNodeStatus(fillingPod(false)).status;
  const on = buildNodeStatus(fillingPod(true)).status;
  const node = (prev: NodeStatusDoc | null, next: NodeStatusDoc) =>
    eventsForPass(prev, next, { kind: 'no-policy' })
      .filter((e) => e.reason === 'ConntrackTableFillingUp')
      .map((e) => `${e.type} ${e.message}`);
  const pod = (prev: NodeStatusDoc | null, next: NodeStatusDoc) =>
    podEventsForPass(prev, next).map((e) => `${e.reason} ${e.pod.namespace}/${e.pod.name} ${e.pod.uid}`);
  const text =
    'Warning Connection tracking on n1 is filling up. Full in ~38 s at +1,200 entries/s in pod default/web-7f9c (netns 4026532174), before any drop: autoSize is growing max (now 65,536, up to its ceiling of 1,048,576 entries).';
  assert.deepEqual(node(off, on), [text]);
  assert.deepEqual(pod(off, on), [`ConntrackTableFillingUp default/web-7f9c ${POD}`]);
  assert.deepEqual(node(on, on), [], 'still filling: not again');
  assert.deepEqual(pod(on, on), []);
  assert.deepEqual(node(on, off), []);
  assert.deepEqual(node(off, on), [text], 'turned on again: again');
  assert.deepEqual(node(null, on), [text], 'on at the first pass');
  const unnamed = buildNodeStatus(fillingPod(true, false)).status;
  assert.deepEqual(pod(off, unnamed), [], 'a pod known only by UID: the Node event only');
  assert.equal(node(off, unnamed).length, 1);
});

test("events: a pod namespace full or under pressure is its own event (Node and Pod), not a second one from the node's conditions", () => {
  const prev = buildNodeStatus(inputs({ namespaces: { census: before, previousDrops: null, podNames } })).status;
  const next = buildNodeStatus(inputs({ namespaces: { census: podFull, previousDrops: netnsDrops(before), podNames } })).status;
  assert.deepEqual(
    eventsForPass(prev, next, { kind: 'no-policy' }).map((e) => e.reason),
    ['ConntrackTableFull'],
    'the pod was already under pressure; the full table is announced once, by the namespace event',
  );
  const fromCalm = buildNodeStatus(inputs({ namespaces: { census: census([hostRow(10), row({ entries: 100 })]), previousDrops: null, podNames } })).status;
  assert.deepEqual(
    eventsForPass(fromCalm, next, { kind: 'no-policy' }).map((e) => e.reason),
    ['ConntrackTableFull', 'ConntrackTablePressure'],
  );
  assert.deepEqual(
    podEventsForPass(fromCalm, next).map((e) => e.reason),
    ['ConntrackTableFull', 'ConntrackTablePressure'],
  );
});

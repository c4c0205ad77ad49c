// The ConntrackStatus `namespaces` summary and the Node events it raises: a pod
// namespace that fills is its own TableFull event, named by inode and pod UID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetnsCensus, NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { readNetnsCensus } from '../../src/kernel/netns-census.js';
import { readHostSnapshot } from '../../src/kernel/snapshot.js';
import { DEFAULT_PRESSURE } from '../../src/api/v1alpha1/policy-rules.js';
import { netnsEventsForPass, podEventsForPass } from '../../src/report/netns-events.js';
import { buildNetnsStatus, netnsDrops, type PodNames } from '../../src/report/netns-status.js';
import { eventsForPass } from '../../src/report/node-events.js';
import { buildNodeStatus } from '../../src/report/node-status.js';
import { NetnsSummary, NodeStatus, type NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { writeReason } from '../../src/report/status-throttle.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { censusOf, censusRow } from '../support/census.js';

const MAX = 1000;
const POD = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';

const ns = (inode: number, entries: number, drop = 0, insertFailed = 0, over: Partial<NetnsCensusRow> = {}): NetnsCensusRow =>
  censusRow({ key: inode, entries, counters: { drop, insertFailed, earlyDrop: 0 }, ...over });
const census = (rows: NetnsCensusRow[]) => censusOf(rows, { processes: 50, slab: { activeObjects: 5000, totalObjects: 5100, objectSize: 256 } });

const first = census([ns(1, 10, 3, 0, { host: true }), ns(20, 950, 4, 0, { podUid: POD }), ns(30, 750), ns(40, 100, 7, 2)]);

const cases: Array<{ name: string; now: NetnsCensus; previous: NetnsCensus | null; full: Array<[number, number]>; pressure: number[] }> = [
  { name: 'first pass: old drops are history, not "full now"', now: first, previous: null, full: [], pressure: [20, 30] },
  {
    name: "drops rising without insert_failed: full; the host's drops are the node's own TableFull",
    now: census([ns(1, 10, 9, 0, { host: true }), ns(20, 1000, 14, 0, { podUid: POD }), ns(30, 750), ns(40, 100, 7, 2)]),
    previous: first,
    full: [[20, 10]],
    pressure: [20, 30],
  },
  { name: 'drops rising with insert_failed: an insertion race, not a full table', now: census([ns(40, 100, 12, 7)]), previous: first, full: [], pressure: [] },
  { name: 'a namespace first seen this pass has no "since last pass"', now: census([ns(50, 999, 40)]), previous: first, full: [], pressure: [50] },
];
for (const c of cases) {
  test(`namespaces summary: ${c.name}`, () => {
    const s = buildNetnsStatus(c.now, c.previous ? netnsDrops(c.previous) : null, MAX, DEFAULT_PRESSURE);
    assert.deepEqual(
      s.full.map((r) => [r.inode, r.dropsRising]),
      c.full,
    );
    assert.deepEqual(
      s.pressure.map((r) => r.inode),
      c.pressure,
    );
    NetnsSummary.parse(s);
  });
}

test('namespaces summary: bounded to five rows per list whatever the number of pods; totals over all', () => {
  const many = census(Array.from({ length: 300 }, (_, i) => ns(100 + i, 700 + i, 0, 0, { podUid: POD })));
  const s = buildNetnsStatus(many, null, MAX, DEFAULT_PRESSURE);
  assert.equal(s.count, 300);
  assert.equal(s.entries, 300 * 700 + (299 * 300) / 2);
  assert.equal(s.slabActiveObjects, 5000);
  assert.deepEqual(
    s.top.map((r) => r.inode),
    [399, 398, 397, 396, 395],
  );
  assert.equal(s.pressure.length, 5);
  assert.deepEqual(s.top[0], { inode: 399, pid: 399, entries: 999, usagePercent: 99.9, drop: 0, podUid: POD });
  assert.throws(() => NetnsSummary.parse({ ...s, top: [...s.top, s.top[0]] }), /too_big|Too big/);
});

const doc = (namespaces: NodeStatusDoc['namespaces']): NodeStatusDoc => ({
  nodeName: 'n1',
  lastProbeTime: '2026-01-01T00:00:00Z',
  kernel: { release: 'x', conntrackLoaded: true, notrackBackend: 'none', tableSource: 'none' },
  driftCount: 0,
  conditions: [],
  ...(namespaces ? { namespaces } : {}),
});

test('events: TableFull for each namespace dropping now, naming it and its pod; Pressure once when it first crosses', () => {
  const pass1 = doc(buildNetnsStatus(first, null, MAX, DEFAULT_PRESSURE));
  const second = census([ns(1, 10, 3, 0, { host: true }), ns(20, 1000, 14, 0, { podUid: POD }), ns(30, 750), ns(40, 100, 7, 2)]);
  const pass2 = doc(buildNetnsStatus(second, netnsDrops(first), MAX, DEFAULT_PRESSURE));
  assert.deepEqual(
    netnsEventsForPass(null, pass1).map((e) => [e.reason, e.message.match(/network namespace (\d+)/)?.[1]]),
    [
      ['ConntrackTablePressure', '20'],
      ['ConntrackTablePressure', '30'],
    ],
  );
  const e2 = netnsEventsForPass(pass1, pass2);
  assert.deepEqual(
    e2.map((e) => e.reason),
    ['ConntrackTableFull'],
  );
  assert.match(
    e2[0]!.message,
    new RegExp(
      `^Connection tracking table FULL in network namespace 20 \\(pod UID ${POD}\\) on n1: 10 new connections dropped since the last check \\(1000 entries, 100% of nf_conntrack_max\\)`,
    ),
  );
  assert.deepEqual(netnsEventsForPass(pass1, doc(undefined)), []);
});

test('pod names: rows of a known pod UID carry its namespace and name; unknown UIDs and the host keep what the cgroup says', () => {
  const OTHER = '9a1b2c3d-0000-4000-8000-000000000001';
  const asked: string[] = [];
  const podNames: PodNames = (uid) => (asked.push(uid), uid === POD ? { namespace: 'shop', name: 'cache-1' } : undefined);
  const s = buildNetnsStatus(
    census([ns(1, 10, 0, 0, { host: true }), ns(20, 950, 0, 0, { podUid: POD }), ns(30, 800, 0, 0, { podUid: OTHER })]),
    null,
    MAX,
    DEFAULT_PRESSURE,
    podNames,
  );
  assert.deepEqual(
    s.top.map((r) => [r.inode, r.podUid, r.podNamespace, r.podName]),
    [
      [20, POD, 'shop', 'cache-1'],
      [30, OTHER, undefined, undefined],
      [1, undefined, undefined, undefined],
    ],
  );
  assert.deepEqual(
    s.pressure.map((r) => r.podName),
    ['cache-1', undefined],
  );
  assert.deepEqual(new Set(asked), new Set([POD, OTHER]), 'only pod UIDs are looked up');
  NetnsSummary.parse(s);
  assert.throws(() => NetnsSummary.parse({ ...s, top: [{ ...s.top[0], podName: 'x'.repeat(254) }] }), /too_big|Too big/);
});

test('pod events: the namespace events of known pods, on the Pod, naming it and the node; none for a UID without a name', () => {
  const named: PodNames = (uid) => (uid === POD ? { namespace: 'shop', name: 'cache-1' } : undefined);
  const before = census([ns(1, 10, 3, 0, { host: true }), ns(20, 900, 4, 0, { podUid: POD }), ns(30, 10, 0, 0, { podUid: 'u-2' })]);
  const nowFull = census([ns(1, 10, 3, 0, { host: true }), ns(20, 1000, 14, 0, { podUid: POD }), ns(30, 950, 5, 0, { podUid: 'u-2' })]);
  const pass1 = doc(buildNetnsStatus(before, null, MAX, DEFAULT_PRESSURE, named));
  const pass2 = doc(buildNetnsStatus(nowFull, netnsDrops(before), MAX, DEFAULT_PRESSURE, named));
  const onPods = podEventsForPass(pass1, pass2);
  assert.deepEqual(
    onPods.map((e) => [e.reason, e.pod]),
    [['ConntrackTableFull', { namespace: 'shop', name: 'cache-1', uid: POD }]],
  );
  assert.match(
    onPods[0]!.message,
    new RegExp(`^Connection tracking table FULL in network namespace 20 \\(pod shop/cache-1, UID ${POD}\\) on n1: 10 new connections dropped`),
  );
  const onNode = netnsEventsForPass(pass1, pass2);
  assert.deepEqual(
    onNode.map((e) => e.reason),
    ['ConntrackTableFull', 'ConntrackTableFull', 'ConntrackTablePressure'],
  );
  assert.equal(onNode[0]!.message, onPods[0]!.message, 'the Node gets the same text');
  assert.match(onNode[1]!.message, /network namespace 30 \(pod UID u-2\)/);
  assert.deepEqual(
    podEventsForPass(null, pass1).map((e) => [e.reason, e.pod.name]),
    [['ConntrackTablePressure', 'cache-1']],
  );
  assert.deepEqual(podEventsForPass(pass1, doc(buildNetnsStatus(nowFull, netnsDrops(before), MAX, DEFAULT_PRESSURE))), [], 'no names known: no Pod events');
});

test("an agent pass over the fixture: the status carries the namespaces and still validates; events go with the node's", async () => {
  const t = loadFixtureTree('netns-census');
  const hostTree = loadFixtureTree('host-6.18');
  const snapshot = await readHostSnapshot(fakeHost(hostTree.kernel, hostTree.paths, { isRoot: true }));
  const c = await readNetnsCensus(fakeHost(t.kernel, t.paths, { isRoot: true }), { host: true, inode: 4026531833 });
  const { status } = buildNodeStatus({
    nodeName: 'n1',
    now: new Date('2026-01-01T00:00:00Z'),
    snapshot,
    summary: null,
    tableSource: 'procfs',
    notrackBackend: 'none',
    cidrs: { kubernetesNode: false, service: { cidrs: null, why: 'no --service-cidr given' }, pod: { cidrs: null, why: 'no --pod-cidr given' } },
    outcome: { kind: 'no-policy' },
    baseline: { values: {}, notrackOwned: false },
    drops: { window: null, kernelLoggedFull: false },
    namespaces: { census: c, previousDrops: null, podNames: (uid) => (uid === POD ? { namespace: 'shop', name: 'web-7' } : undefined) },
    previousConditions: [],
  });
  NodeStatus.parse(status);
  assert.deepEqual(status.namespaces, {
    count: 3,
    entries: 20,
    slabActiveObjects: 250032,
    top: [
      { inode: 4026532371, pid: 30620, entries: 12, usagePercent: 0, drop: 0, podUid: '5d2c7e44-1b9a-4f0e-8c3d-6a7b8c9d0e1f' },
      { inode: 4026532306, pid: 30618, entries: 7, usagePercent: 0, drop: 0, podUid: POD, podNamespace: 'shop', podName: 'web-7' },
      { inode: 4026531833, pid: 1, entries: 1, usagePercent: 0, drop: 0 },
    ],
    full: [],
    pressure: [],
  });
  const full = { ...status, namespaces: { ...status.namespaces!, full: [{ inode: 4026532371, dropsRising: 3 }] } };
  assert.ok(eventsForPass(status, full, { kind: 'no-policy' }).some((e) => e.reason === 'ConntrackTableFull' && e.message.includes('4026532371')));
});

test('a namespace whose ns/net link could not be read: its row has a pid and no inode, and its events name it by that pid', () => {
  const before = census([ns(1, 10, 0, 0, { host: true }), ns(20, 900, 3, 0, { inode: null, podUid: POD })]);
  const after = census([ns(1, 10, 0, 0, { host: true }), ns(20, 1000, 9, 0, { inode: null, podUid: POD })]);
  const pass1 = doc(buildNetnsStatus(before, null, MAX, DEFAULT_PRESSURE));
  const pass2 = doc(buildNetnsStatus(after, netnsDrops(before), MAX, DEFAULT_PRESSURE));
  NodeStatus.parse(pass2);
  assert.deepEqual(pass2.namespaces!.full, [{ pid: 20, entries: 1000, usagePercent: 100, drop: 9, dropsRising: 6, podUid: POD }]);
  const events = netnsEventsForPass(pass1, pass2);
  assert.deepEqual(
    events.map((e) => e.reason),
    ['ConntrackTableFull'],
    'the pressure it was already under is not announced again',
  );
  assert.match(events[0]!.message, new RegExp(`^Connection tracking table FULL in network namespace of pid 20 \\(pod UID ${POD}\\) on n1`));
});

test('a namespace that starts or stops being full or under pressure is worth a status write; its entries moving are not', () => {
  const pass1 = doc(buildNetnsStatus(first, null, MAX, DEFAULT_PRESSURE));
  const moved = doc(
    buildNetnsStatus(
      census([ns(1, 12, 3, 0, { host: true }), ns(20, 960, 4, 0, { podUid: POD }), ns(30, 760), ns(40, 90, 7, 2)]),
      netnsDrops(first),
      MAX,
      DEFAULT_PRESSURE,
    ),
  );
  const dropping = doc(
    buildNetnsStatus(
      census([ns(1, 10, 3, 0, { host: true }), ns(20, 1000, 14, 0, { podUid: POD }), ns(30, 750), ns(40, 100, 7, 2)]),
      netnsDrops(first),
      MAX,
      DEFAULT_PRESSURE,
    ),
  );
  const last = { status: pass1, at: 0 };
  assert.equal(writeReason(last, moved, 1000), null);
  assert.equal(writeReason(last, dropping, 1000), 'namespaces');
});

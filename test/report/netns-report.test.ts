import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetnsCensus, NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { buildNetnsReport, netnsSection } from '../../src/report/netns-report.js';
import { NETNS_FINDING_RULES, netnsFindings } from '../../src/report/netns-findings.js';
import { readNetnsCensus } from '../../src/kernel/netns-census.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { censusOf, censusRow } from '../support/census.js';

const MAX = 262144;
const POD = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';

function row(
  inode: number,
  entries: number | null,
  extra: Partial<NetnsCensusRow> & { drop?: number; earlyDrop?: number; insertFailed?: number } = {},
): NetnsCensusRow {
  const { drop = 0, earlyDrop = 0, insertFailed = 0, ...rest } = extra;
  return censusRow({ key: inode, pid: inode % 1000, entries, counters: entries === null ? null : { drop, earlyDrop, insertFailed, found: 1 }, ...rest });
}

function census(namespaces: NetnsCensusRow[], slab: NetnsCensus['slab'] = { activeObjects: 201312, totalObjects: 201328, objectSize: 256 }): NetnsCensus {
  return censusOf(namespaces, { processes: 100, slab });
}

// The measured case: a namespace with 200,000 entries while the host reads 0.
const measured = census([
  row(1, 0, { host: true }),
  row(4026532177, 200_000, { podUid: POD, drop: 5, insertFailed: 1 }),
  row(4026532300, 1_234, { earlyDrop: 7 }),
  row(4026532400, null),
]);

test('node-wide figures: entries summed over the namespaces read, the slab bounding them, the fullest one', () => {
  // The pod's namespace: the fullest, and the first by drops.
  const podEntry = {
    key: 4026532177,
    inode: 4026532177,
    pid: 177,
    entries: 200_000,
    usagePercent: 76.3,
    drop: 5,
    earlyDrop: 0,
    insertFailed: 1,
    host: false,
    ours: false,
    pod: { uid: POD },
  };
  const r = buildNetnsReport(measured, MAX, 2);
  assert.deepEqual(r.nodeWide, {
    entries: 201_234,
    hostEntries: 0,
    namespaces: 4,
    namespacesUnread: 1,
    processesUnread: 0,
    max: MAX,
    slab: { activeObjects: 201312, objectSize: 256, activeBytes: 201312 * 256, notInEntries: 78 },
    fullest: podEntry,
    topByDrops: [
      podEntry,
      { key: 4026532300, inode: 4026532300, pid: 300, entries: 1_234, usagePercent: 0.5, drop: 0, earlyDrop: 7, insertFailed: 0, host: false, ours: false },
    ],
  });
  // --top 2: the two with most entries; the unread one sorts last.
  assert.deepEqual(
    r.netns.map((e) => e.inode),
    [4026532177, 4026532300],
  );
  assert.deepEqual(
    buildNetnsReport(measured, MAX, 10).netns.map((e) => e.entries),
    [200_000, 1_234, 0, null],
  );
});

test('no namespace read, no slab, no max: nulls, not zeros', () => {
  const r = buildNetnsReport(census([row(1, null, { host: true })], null), null, 5);
  assert.equal(r.nodeWide.entries, null);
  assert.equal(r.nodeWide.hostEntries, null);
  assert.equal(r.nodeWide.slab, null);
  assert.equal(r.nodeWide.fullest, null);
  assert.equal(r.netns[0]!.usagePercent, null);
  assert.deepEqual(r.nodeWide.topByDrops, []);
});

test('NAMESPACES text names the fullest namespace, its pod, the host share and the slab bound', () => {
  const { title, lines } = netnsSection(buildNetnsReport(measured, MAX, 3));
  assert.equal(title, 'NAMESPACES (4 network namespaces with a process)');
  assert.match(lines[0]!, /^node-wide +201,234 entries in all namespaces \(1 namespace\(s\) unread\), 0 of them in the host's$/);
  assert.match(lines[1]!, /201,312 active objects, 49\.1 MiB at 256 B: an upper bound on live entries, not a count/);
  assert.match(lines[2]!, new RegExp(`^fullest +netns 4026532177 \\(pod ${POD}\\): 200,000 of 262,144 max \\(76\\.3%\\)`));
  assert.match(lines[3]!, /^by entries +4026532177 200,000 \(pod .*\), 4026532300 1,234 \(no pod\), 1 0 \(host\)$/);
  assert.match(lines[4]!, /^by drops +4026532177 drop 5 early_drop 0 insert_failed 1 .*, 4026532300 drop 0 early_drop 7/);
});

test('a namespace whose ns/net link could not be read (no ptrace rights) is named by a process in it, in text and findings', () => {
  const unnamed = census([row(1, 0, { host: true }), row(4026532177, 240_000, { inode: null, podUid: POD })]);
  const r = buildNetnsReport(unnamed, MAX, 3);
  assert.deepEqual([r.nodeWide.fullest?.inode, r.nodeWide.fullest?.pid], [null, 177]);
  const { lines } = netnsSection(r);
  assert.match(lines[2]!, new RegExp(`^fullest +netns of pid 177 \\(pod ${POD}\\): 240,000 of 262,144 max`));
  assert.match(lines[3]!, /^by entries +of pid 177 240,000 \(pod .*\), 1 0 \(host\)$/);
  assert.match(netnsFindings(unnamed, MAX)[0]!.message, new RegExp(`netns of pid 177 \\(pod ${POD}\\) 240000 of 262144`));
});

const findingCases: Array<{ name: string; rows: NetnsCensusRow[]; want: Array<[string, string, RegExp]> }> = [
  {
    name: 'the measured case: 76% in a pod namespace is a warning naming the pod; its drops too',
    rows: measured.namespaces,
    want: [
      ['netns-usage-high', 'warning', new RegExp(`netns 4026532177 \\(pod ${POD}\\) 200000 of 262144 \\(76.3%\\)`)],
      ['netns-dropped-packets', 'warning', /drop 5, insert_failed 1/],
    ],
  },
  {
    name: 'at 90% critical; the host namespace is left to the host findings',
    rows: [row(1, 250_000, { host: true, drop: 9 }), row(2, 240_000)],
    want: [['netns-usage-critical', 'critical', /^1 network namespace\(s\).*netns 2 240000 of 262144 \(91.6%\)/]],
  },
  { name: "the namespace we run in (not the host's) is the report's own table, not another one", rows: [row(2, 250_000, { ours: true, drop: 4 })], want: [] },
  { name: 'below 70% and no drops: nothing', rows: [row(2, 180_000, { earlyDrop: 3 })], want: [] },
  {
    name: 'many namespaces: one finding naming the worst three and how many more',
    rows: [190_000, 200_000, 210_000, 220_000, 185_000].map((e, i) => row(10 + i, e)),
    want: [['netns-usage-high', 'warning', /^5 network namespace\(s\).*: netns 13 220000 .*, netns 12 210000 .*, netns 11 200000 .* and 2 more\.$/]],
  },
];
for (const c of findingCases) {
  test(`namespace findings: ${c.name}`, () => {
    const got = netnsFindings(census(c.rows), MAX);
    assert.deepEqual(
      got.map((f) => [f.id, f.severity]),
      c.want.map(([id, sev]) => [id, sev]),
    );
    got.forEach((f, i) => assert.match(f.message, c.want[i]![2]));
  });
}

// Each namespace rule on both sides of its threshold (usage as the report rounds it, to 0.1%);
// every rule of the table needs a row here.
const netnsRuleCases: Record<string, { fires: NetnsCensusRow[][]; quiet: NetnsCensusRow[][] }> = {
  'netns-usage-critical': {
    fires: [[row(2, 235_930)]],
    quiet: [[row(2, 235_667)], [row(1, 250_000, { host: true })], [row(2, 250_000, { ours: true })], [row(2, null)]],
  },
  'netns-usage-high': {
    fires: [[row(2, 183_501)], [row(2, 235_667)]],
    quiet: [[row(2, 183_239)], [row(2, 235_930)], [row(1, 200_000, { host: true })], [row(2, null)]],
  },
  'netns-dropped-packets': {
    fires: [[row(2, 10, { drop: 1 })]],
    quiet: [[row(2, 10, { earlyDrop: 3, insertFailed: 2 })], [row(1, 10, { host: true, drop: 5 })], [row(2, 10, { ours: true, drop: 5 })]],
  },
};

test('namespace finding rules: one id each, and every rule has cases', () => {
  const ids = NETNS_FINDING_RULES.map((r) => r.id);
  assert.equal(new Set(ids).size, ids.length, 'ids are unique');
  assert.deepEqual([...ids].sort(), Object.keys(netnsRuleCases).sort());
});

for (const { id } of NETNS_FINDING_RULES) {
  const { fires, quiet } = netnsRuleCases[id] ?? { fires: [], quiet: [] };
  for (const [want, rowsList] of [
    [true, fires],
    [false, quiet],
  ] as const) {
    rowsList.forEach((rows, n) => {
      test(`namespace finding rule ${id} ${want ? 'fires' : 'stays quiet'} (${n + 1})`, () => {
        assert.equal(
          netnsFindings(census(rows), MAX).some((f) => f.id === id),
          want,
          JSON.stringify(rows.map((r) => [r.inode, r.entries, r.counters])),
        );
      });
    });
  }
}

test('custom pressure thresholds apply', () => {
  assert.deepEqual(
    netnsFindings(census([row(2, 150_000)]), MAX, { warningPercent: 50, criticalPercent: 55 }).map((f) => f.id),
    ['netns-usage-critical'],
  );
});

test('the fixture census end to end: three namespaces, pods attributed, total within the slab', async () => {
  const t = loadFixtureTree('netns-census');
  const r = buildNetnsReport(await readNetnsCensus(fakeHost(t.kernel, t.paths, { isRoot: true }), { host: true, inode: 4026531833 }), MAX, 10);
  assert.equal(r.nodeWide.entries, 1 + 7 + 12);
  assert.equal(r.nodeWide.hostEntries, 1);
  assert.ok(r.nodeWide.entries! <= r.nodeWide.slab!.activeObjects);
  assert.deepEqual(
    r.netns.map((e) => [e.entries, e.host, e.pod?.uid ?? null]),
    [
      [12, false, '5d2c7e44-1b9a-4f0e-8c3d-6a7b8c9d0e1f'],
      [7, false, POD],
      [1, true, null],
    ],
  );
});

// The counts autoSize sizes from: the fullest network namespace (ours from the
// snapshot, the others from the census) and the entries of all the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { namespaceCounts, nodeFacts } from '../../src/kernel/node-facts.js';
import { readHostSnapshot, type HostSnapshot } from '../../src/kernel/snapshot.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { censusOf, censusRow } from '../support/census.js';

async function snapshot(count: number | null): Promise<HostSnapshot> {
  const t = loadFixtureTree('host-6.18');
  const s = await readHostSnapshot(fakeHost(t.kernel, t.paths, { isRoot: true }));
  return { ...s, table: { ...s.table, count } };
}

const row = (key: number, entries: number | null, ours = false): NetnsCensusRow =>
  censusRow({ key, inode: key - 1, pid: key % 1000, host: ours, ours, entries });

const cases: Array<{ name: string; ours: number | null; rows: NetnsCensusRow[] | null; want: { fullest: number | null; others: number } }> = [
  { name: 'no census: our count alone', ours: 500, rows: null, want: { fullest: 500, others: 0 } },
  {
    name: "a pod's namespace fuller than the host's: it is the fullest, the host's count among the others",
    ours: 500,
    rows: [row(1001, 480, true), row(2002, 7_000), row(3003, 1_200)],
    want: { fullest: 7_000, others: 500 + 1_200 },
  },
  {
    name: "ours is read from the snapshot (newer than the census's row for it), others from the census",
    ours: 9_000,
    rows: [row(1001, 480, true), row(2002, 7_000)],
    want: { fullest: 9_000, others: 7_000 },
  },
  { name: 'unread namespaces count for nothing', ours: 10, rows: [row(1001, 10, true), row(2002, null)], want: { fullest: 10, others: 0 } },
  { name: 'our count unread: the census row for ours stands in', ours: null, rows: [row(1001, 300, true), row(2002, 20)], want: { fullest: 300, others: 20 } },
  { name: 'nothing read', ours: null, rows: [row(2002, null)], want: { fullest: null, others: 0 } },
];

for (const c of cases) {
  test(`namespace counts: ${c.name}`, async () => {
    assert.deepEqual(namespaceCounts(await snapshot(c.ours), c.rows ? censusOf(c.rows) : null), c.want);
  });
}

test('node facts carry the fullest count and the others; none when nothing was read', async () => {
  const facts = nodeFacts(await snapshot(500), { serviceCidrs: [], podCidrs: [] }, censusOf([row(1001, 480, true), row(2002, 7_000)]));
  assert.deepEqual([facts.conntrackCount, facts.otherNamespacesEntries], [7_000, 500]);
  const none = nodeFacts(await snapshot(null), { serviceCidrs: [], podCidrs: [] }, null);
  assert.deepEqual([none.conntrackCount, none.otherNamespacesEntries], [undefined, undefined]);
});

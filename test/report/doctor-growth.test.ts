// doctor's growth figures: every namespace's count at both ends of the
// sampling window, the rate of the one nearest to full and when it would be
// full at that rate, in --json (window.growthPerSecond, secondsToFull,
// namespace) and in the text. Expected numbers worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose } from '../../src/cli/doctor.js';
import type { NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { fillWindow, type FillWindow } from '../../src/report/fill-window.js';
import { renderDoctorText } from '../../src/report/doctor-text.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { censusOf, censusRow } from '../support/census.js';

const MAX = 262144;
const POD = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';

const row = (inode: number, entries: number | null, over: Partial<NetnsCensusRow> = {}): NetnsCensusRow =>
  censusRow({ key: inode + 1, inode, pid: inode % 10_000, entries, ...over });
const at = (atMs: number, rows: NetnsCensusRow[]) => ({ atMs, census: censusOf(rows, { hostKey: 2, processes: 9 }) });
const host = (entries: number) => row(1, entries, { host: true, ours: true, pid: 1 });

const cases: Array<{ name: string; before: NetnsCensusRow[]; after: NetnsCensusRow[]; want: FillWindow }> = [
  {
    name: 'a pod namespace climbing 3,000 entries/s past a fuller but steady host: the pod, full in 18.7 s',
    before: [host(230_000), row(4026532174, 200_000, { podUid: POD })],
    after: [host(230_010), row(4026532174, 206_000, { podUid: POD })],
    // (206,000 - 200,000) / 2 s = 3,000/s; (262,144 - 206,000) / 3,000 = 18.71 s. The host: +5/s, full in 6,427 s.
    want: { growthPerSecond: 3000, secondsToFull: 18.7, namespace: { inode: 4026532174, pid: 2174, host: false, podUid: POD, entries: 206_000 } },
  },
  {
    name: 'nothing growing faster than max/100,000 per second: the fullest, with its rate and no time to full',
    before: [host(1000), row(4026532174, 5000)],
    after: [host(1004), row(4026532174, 4900)],
    // 262,144 x 1e-5 = 2.6 entries/s is the floor: the host's +2/s is below it
    want: { growthPerSecond: -50, secondsToFull: null, namespace: { inode: 4026532174, pid: 2174, host: false, podUid: null, entries: 4900 } },
  },
  {
    name: 'a tie at the top: the host is named',
    before: [host(100), row(4026532174, 100)],
    after: [host(100), row(4026532174, 100)],
    want: { growthPerSecond: 0, secondsToFull: null, namespace: { inode: 1, pid: 1, host: true, podUid: null, entries: 100 } },
  },
  {
    name: 'the fullest appeared during the window: no rate for it',
    before: [host(100)],
    after: [host(100), row(4026532174, 9000)],
    want: { growthPerSecond: null, secondsToFull: null, namespace: { inode: 4026532174, pid: 2174, host: false, podUid: null, entries: 9000 } },
  },
  {
    name: 'counts unreadable (a kernel without the per-namespace stat file): nothing to say',
    before: [row(4026532174, null)],
    after: [row(4026532174, null)],
    want: { growthPerSecond: null, secondsToFull: null, namespace: null },
  },
];

for (const c of cases) {
  test(`fill window: ${c.name}`, () => {
    assert.deepEqual(fillWindow(at(1_000_000, c.before), at(1_002_000, c.after), MAX), c.want);
  });
}

/** A per-namespace stat file of two CPUs holding `entries` (the column is the namespace's count on every row). */
const statFile = (entries: number) => {
  const header =
    'entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart';
  const cells = [entries.toString(16).padStart(8, '0'), ...Array.from({ length: 16 }, () => '00000000')].join(' ');
  return `${header}\n${cells}\n${cells}\n`;
};

test('doctor on the host-6.18 tree plus a pod namespace filling during --sample: the window names it, JSON and text', async () => {
  const tree = loadFixtureTree('host-6.18');
  const { kernel, paths } = tree;
  kernel.link(paths.netns('4242'), 'net:[4026532174]');
  kernel.set(
    paths.cgroup('4242'),
    `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-1.scope\n`,
  );
  kernel.set(paths.statFile('4242'), statFile(200_000));
  let now = 1_000_000;
  const report = await diagnose(fakeHost(kernel, paths, { isRoot: true, clock: () => now }), {
    readTable: false,
    topN: 10,
    sampleMs: 2000,
    sleep: async (ms) => {
      now += ms;
      kernel.set(paths.statFile('4242'), statFile(206_000));
    },
  });
  assert.equal(report.window?.seconds, 2);
  assert.equal(report.window?.growthPerSecond, 3000);
  assert.equal(report.window?.secondsToFull, 18.7);
  assert.deepEqual(report.window?.namespace, { inode: 4026532174, pid: 4242, host: false, podUid: POD, entries: 206_000 });
  assert.match(
    renderDoctorText(report),
    new RegExp(`\\n  growth {20}\\+3,000 entries/s in pod UID ${POD} \\(netns 4026532174\\) \\(206,000 entries\\): full in ~19 s at this rate\\n`),
  );
});

test('doctor --sample 0: one reading, no window, no growth', async () => {
  const tree = loadFixtureTree('host-6.18');
  const report = await diagnose(fakeHost(tree.kernel, tree.paths, { isRoot: true }), { readTable: false, topN: 10, sampleMs: 0, sleep: async () => {} });
  assert.equal(report.window, null);
  assert.doesNotMatch(renderDoctorText(report), /growth/);
});

// doctor on fixture trees: drops judged over its sampling window and split by
// cause, since-boot totals as history, and a copied tree as the only source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose } from '../../src/cli/doctor.js';
import { doctorExitCode } from '../../src/report/doctor-report.js';
import { renderDoctorText } from '../../src/report/doctor-text.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree, type FixtureTree } from '../support/fixture-tree.js';
import { FakeRunner } from '../support/fake-runner.js';

/** Run doctor on a tree whose stat file reads `before` at the first sample and `after` at the second. */
async function doctorOn(tree: FixtureTree, before: string, after: string, runner = new FakeRunner({})) {
  tree.kernel.set(tree.paths.statFile(), before);
  let now = 1_000_000;
  const report = await diagnose(fakeHost(tree.kernel, tree.paths, { runner, isRoot: true, clock: () => now }), {
    readTable: true,
    topN: 10,
    sampleMs: 2000,
    sleep: async (ms) => {
      now += ms;
      tree.kernel.set(tree.paths.statFile(), after);
    },
  });
  return { report, runner, text: renderDoctorText(report) };
}

/**
 * The real stat file with some columns raised on CPU 0: an unresolved insertion race as older
 * kernels count it. This kernel (6.18) resolves the race instead (clash_resolve), so no real
 * copy of it can be taken here.
 */
function withRaised(statFile: string, raised: Record<string, number>): string {
  const [header, first, ...rest] = statFile.split('\n');
  const names = header!.trim().split(/\s+/);
  const cells = first!
    .trim()
    .split(/\s+/)
    .map((cell, i) => (parseInt(cell, 16) + (raised[names[i]!] ?? 0)).toString(16).padStart(8, '0'));
  return [header, cells.join(' '), ...rest].join('\n');
}

test('a real full table (count = max, drop rose, insert_failed did not): table-full drops, critical, exit 2', async () => {
  const tree = loadFixtureTree('full-table');
  const after = await tree.kernel.read(tree.paths.statFile());
  const { report, text } = await doctorOn(tree, fixtureText('full-table', 'stat-before.txt'), after);
  // The tree's only other process (pid 1) keeps its namespace to itself (EACCES): no namespace to measure growth in.
  assert.deepEqual(report.window, {
    seconds: 2,
    tableFull: 10,
    insertionRace: 0,
    earlyDrop: 0,
    insertFailed: 0,
    clashResolved: 0,
    growthPerSecond: null,
    secondsToFull: null,
    namespace: null,
  });
  const ids = report.findings.map((f) => f.id);
  assert.ok(ids.includes('usage-critical') && ids.includes('table-full-drops'), ids.join(','));
  assert.ok(!ids.includes('insertion-race-drops'));
  assert.equal(doctorExitCode(report), 2);
  assert.match(text, /NOW \(counters sampled twice, 2s apart\)/);
  assert.match(text, /dropped, table full {7}10/);
  assert.match(fixtureText('full-table', 'kmsg-table-full.txt'), /table full in netns 4026532319/);
});

test('the race on a nearly empty table (drop and insert_failed rose together): its own warning and remedy, not "table full"', async () => {
  const tree = loadFixtureTree('host-6.18');
  const real = await tree.kernel.read(tree.paths.statFile());
  const { report, text } = await doctorOn(tree, real, withRaised(real, { drop: 7, insert_failed: 7 }));
  assert.equal(report.window?.insertionRace, 7);
  assert.equal(report.window?.tableFull, 0);
  const race = report.findings.find((f) => f.id === 'insertion-race-drops');
  assert.ok(race, report.findings.map((f) => f.id).join(','));
  assert.equal(race.severity, 'warning');
  assert.match(race.action!, /NOTRACK DNS/);
  assert.ok(!report.findings.some((f) => f.id === 'table-full-drops' || f.id.startsWith('usage-')));
  assert.equal(doctorExitCode(report), 0);
  assert.match(text, /dropped, insertion race {3}7 \(insert_failed 7\)/);
});

test('drops long ago, none in the window: history only, exit 0', async () => {
  const tree = loadFixtureTree('full-table');
  const after = await tree.kernel.read(tree.paths.statFile());
  const { report } = await doctorOn(tree, after, after);
  assert.equal(report.counters?.drop, 10);
  assert.equal(report.window?.tableFull, 0);
  assert.ok(report.findings.some((f) => f.id === 'drops-since-boot' && f.severity === 'info'));
  assert.ok(!report.findings.some((f) => f.id === 'table-full-drops'));
});

test('a proc/net tree without a table file: only its own values, what is missing named, no conntrack run', async () => {
  const tree = loadFixtureTree('proc-net-layout');
  // conntrack-tools would answer (with the live kernel's numbers): they must not be asked.
  const runner = new FakeRunner({
    'conntrack -S': { code: 0, stdout: fixtureText('with-table', 'conntrack-S.txt'), stderr: '' },
    'conntrack -L -o extended': { code: 0, stdout: fixtureText('with-table', 'conntrack-L-extended.txt'), stderr: '' },
  });
  let now = 0;
  const report = await diagnose(fakeHost(tree.kernel, tree.paths, { runner, isRoot: true, clock: () => now }), {
    readTable: true,
    topN: 10,
    sampleMs: 2000,
    sleep: async (ms) => void (now += ms),
  });
  assert.deepEqual(runner.calls, []);
  assert.equal(report.counters?.source, 'stat-file');
  assert.equal(report.table.count, 0);
  assert.equal(report.breakdown, null);
  const text = renderDoctorText(report);
  assert.match(text, /conntrack table: conntrack -L -o extended \(not run: the --proc-root tree is not this kernel\)/);
  assert.match(text, /conntrack table file: .*proc-net-layout\/proc\/self\/net\/nf_conntrack \(ENOENT\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { counterName, parseConntrackS, parseStatFile, readConntrackStats } from '../../src/kernel/stats.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';
import { FakeRunner, type Answers } from '../support/fake-runner.js';

test('counterName maps both interfaces to one camelCase vocabulary', () => {
  for (const [raw, want] of [
    ['clashres', 'clashResolve'],
    ['clash_resolve', 'clashResolve'],
    ['chainlength', 'chainTooLong'],
    ['chaintoolong', 'chainTooLong'],
    ['error', 'icmpError'],
    ['icmp_error', 'icmpError'],
    ['insert_failed', 'insertFailed'],
    ['early_drop', 'earlyDrop'],
    ['search_restart', 'searchRestart'],
    ['expect_new', 'expectNew'],
    ['drop', 'drop'],
  ])
    assert.equal(counterName(raw!), want, raw);
});

test('stat file of this kernel (with-table): entries taken once, not summed over CPUs', () => {
  const got = parseStatFile(fixtureText('with-table', 'proc/self/net/stat/nf_conntrack'));
  assert.equal(got.cpus, 2);
  assert.equal(got.entries, 23); // 0x17 on each of the 2 rows; the table had 23 entries
  assert.deepEqual(Object.keys(got.counters!).sort(), [
    'chainTooLong',
    'clashResolve',
    'delete',
    'drop',
    'earlyDrop',
    'expectCreate',
    'expectDelete',
    'expectNew',
    'found',
    'icmpError',
    'ignore',
    'insert',
    'insertFailed',
    'invalid',
    'new',
    'searchRestart',
  ]);
});

test('stat file: parsed by its header, hex summed over CPUs, any column set', () => {
  // An older kernel's column set (no clashres, has searched) with made-up values.
  const text = [
    'entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart',
    '0000002a  00000010 00000001 00000000 00000003 00000000 00000000 00000000 00000000 00000001 0000000a 00000002 00000000  00000000 00000000 00000000 000000ff',
    '0000002a  00000010 00000001 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000006 00000000 00000000  00000000 00000000 00000000 00000001',
  ].join('\n');
  const got = parseStatFile(text);
  assert.equal(got.entries, 42);
  assert.equal(got.cpus, 2);
  assert.equal(got.counters!.drop, 16);
  assert.equal(got.counters!.earlyDrop, 2);
  assert.equal(got.counters!.insertFailed, 1);
  assert.equal(got.counters!.invalid, 4);
  assert.equal(got.counters!.searchRestart, 256);
  assert.equal(got.counters!.searched, 32);
  assert.equal(got.counters!.deleteList, 0);
  assert.equal(got.counters!.clashResolve, undefined);
});

test('stat file: bad input names the row and the column', () => {
  assert.throws(() => parseStatFile(''), /empty/);
  assert.throws(() => parseStatFile('entries drop\n00000001'), /row 1: 1 values for 2 columns/);
  assert.throws(() => parseStatFile('entries drop\n00000001 zz'), /column drop is not hex/);
});

test('conntrack -S over netlink (no-stat-file fixture) and its /proc fallback format', () => {
  const netlink = parseConntrackS(fixtureText('no-stat-file', 'conntrack-S.txt'));
  assert.equal(netlink.cpus, 2);
  assert.equal(netlink.entries, null);
  assert.deepEqual(Object.keys(netlink.counters!).sort(), [
    'chainTooLong',
    'clashResolve',
    'drop',
    'earlyDrop',
    'found',
    'icmpError',
    'insert',
    'insertFailed',
    'invalid',
    'searchRestart',
  ]);
  const fallback = parseConntrackS(fixtureText('host-6.18', 'conntrack-S-without-cap-net-admin.stdout'));
  assert.equal(fallback.entries, 0);
  assert.ok('clashResolve' in fallback.counters! && 'chainTooLong' in fallback.counters!);
  assert.throws(() => parseConntrackS('conntrack v1.4.7: nothing'), /no cpu= lines/);
  assert.throws(() => parseConntrackS('cpu=0 drop=lots'), /drop is not a number/);
});

test('conntrack -S sums per-CPU values', () => {
  const got = parseConntrackS(
    'cpu=0   \tfound=1 drop=2 early_drop=3 error=4 clash_resolve=5 chaintoolong=6\ncpu=1   \tfound=10 drop=20 early_drop=30 error=40 clash_resolve=50 chaintoolong=60 \n',
  );
  assert.deepEqual(got.counters, { found: 11, drop: 22, earlyDrop: 33, icmpError: 44, clashResolve: 55, chainTooLong: 66 });
});

const cannedS = (name: string) => ({ code: 0, stdout: fixtureText(name, 'conntrack-S.txt'), stderr: '' });

test('readConntrackStats: which source answers, and why the others did not', async (t) => {
  const denied = { code: 1, stdout: '', stderr: fixtureText('no-stat-file', 'conntrack-S-without-cap-net-admin.stderr') };
  const notRun = 'conntrack -S not run: the --proc-root tree is not this kernel';
  const cases: Array<{
    name: string;
    tree: string;
    live: boolean;
    runner: Answers;
    isRoot: boolean;
    source: string | null;
    problems: string[];
    calls: number;
  }> = [
    { name: 'stat file present: no process spawned', tree: 'host-6.18', live: true, runner: {}, isRoot: true, source: 'stat-file', problems: [], calls: 0 },
    {
      name: 'stat file at proc/net (node_exporter layout): read there',
      tree: 'proc-net-layout',
      live: false,
      runner: {},
      isRoot: true,
      source: 'stat-file',
      problems: [],
      calls: 0,
    },
    {
      name: 'stat file missing: conntrack -S',
      tree: 'no-stat-file',
      live: true,
      runner: { 'conntrack -S': cannedS('no-stat-file') },
      isRoot: true,
      source: 'conntrack -S',
      problems: [],
      calls: 1,
    },
    {
      name: 'stat file missing, no CAP_NET_ADMIN',
      tree: 'no-stat-file',
      live: true,
      runner: { 'conntrack -S': denied },
      isRoot: false,
      source: null,
      problems: ['conntrack -S EPERM root'],
      calls: 1,
    },
    {
      name: 'stat file missing, no conntrack binary',
      tree: 'no-stat-file',
      live: true,
      runner: {},
      isRoot: true,
      source: null,
      problems: ['conntrack -S ENOENT'],
      calls: 1,
    },
    {
      name: 'stat file missing in a copied tree: the live kernel is never asked',
      tree: 'no-stat-file',
      live: false,
      runner: { 'conntrack -S': cannedS('no-stat-file') },
      isRoot: true,
      source: null,
      problems: [notRun],
      calls: 0,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { kernel, paths } = loadFixtureTree(c.tree, { live: c.live });
      const runner = new FakeRunner(c.runner);
      const got = await readConntrackStats(fakeHost(kernel, paths, { runner, isRoot: c.isRoot }));
      assert.equal(got.source, c.source);
      assert.equal(got.counters === null, c.source === null);
      assert.deepEqual(
        got.unreadable.map((u) => `${u.path} ${u.code}${u.needsRoot ? ' root' : ''}`),
        c.problems,
      );
      assert.equal(runner.calls.length, c.calls);
    });
  }
});

test('readConntrackStats: an unreadable stat file is named, then conntrack -S is used', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18', { live: true });
  kernel.failRead(paths.statFile(), 'EACCES');
  const got = await readConntrackStats(fakeHost(kernel, paths, { runner: new FakeRunner({ 'conntrack -S': cannedS('host-6.18') }), isRoot: false }));
  assert.equal(got.source, 'conntrack -S');
  assert.deepEqual(got.unreadable, [{ what: 'conntrack stat file', path: paths.statFile(), code: 'EACCES', needsRoot: true }]);
});

test('readConntrackStats: a header without a counter the drop alerts need names it as not read', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18');
  // As a kernel that renamed insert_failed would print it: the column is gone, the others stay.
  const real = await kernel.read(paths.statFile());
  const renamed = real
    .split('\n')
    .map((line, i) => (i === 0 ? line.replace('insert_failed', 'insert_fail') : line))
    .join('\n');
  kernel.set(paths.statFile(), renamed);
  const got = await readConntrackStats(fakeHost(kernel, paths, { isRoot: true }));
  assert.equal(got.source, 'stat-file');
  assert.deepEqual(got.missing, ['insertFailed']);
  assert.deepEqual(got.unreadable, [{ what: 'conntrack counter insertFailed', path: paths.statFile(), code: 'no such column', needsRoot: false }]);
  assert.equal(got.counters!.drop, 0);
});

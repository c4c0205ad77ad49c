// The census over test/fixtures/netns-census (copied from this kernel: the host
// namespace and two test namespaces holding 7 and 12 UDP entries, their
// processes in kubelet-style cgroups; each pid's `net` links to its
// namespace's one directory, as /proc/<pid>/net/stat is one inode per
// namespace) and over faults injected into it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostKeyOf, readNetnsCensus, type NetnsCensus } from '../../src/kernel/netns-census.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { parseConntrackSlab } from '../../src/kernel/host-facts.js';
import { errno } from '../support/fake-kernel.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';

// Keys (stat -c %i /proc/<pid>/net/stat) and nsfs inodes (readlink /proc/<pid>/ns/net) as the kernel gave them.
const HOST = { key: 4026531844, inode: 4026531833 }; // pids 1 and 30452 (the capturing process: self)
const NS_A = { key: 4026532307, inode: 4026532306 }; // pids 30618, 30619; cgroupfs-style pod cgroup
const NS_B = { key: 4026532372, inode: 4026532371 }; // pids 30620, 30621; systemd-style pod cgroup
const POD_A = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';
const POD_B = '5d2c7e44-1b9a-4f0e-8c3d-6a7b8c9d0e1f';
const SELF = { host: true, inode: HOST.inode };

/** The fixture's kernel, with every read, readLink and stat counted by path. */
function tree(options: { links?: string } = {}) {
  const t = loadFixtureTree('netns-census', options);
  const reads: string[] = [];
  const links: string[] = [];
  const stats: string[] = [];
  const files: KernelFiles = {
    read: (p) => (reads.push(p), t.kernel.read(p)),
    readLink: (p) => (links.push(p), t.kernel.readLink(p)),
    inode: (p) => (stats.push(p), t.kernel.inode(p)),
    linkCount: (p) => t.kernel.linkCount(p),
    list: (d) => t.kernel.list(d),
    write: (p, d) => t.kernel.write(p, d),
    canWrite: (p) => t.kernel.canWrite(p),
    mode: (p) => t.kernel.mode(p),
    stream: (p) => t.kernel.stream(p),
  };
  return { ...t, files, reads, links, stats };
}

/** Remove a process from the fake /proc, as its exit does. */
function exitProcess(t: ReturnType<typeof tree>, pid: string): void {
  const dir = t.paths.proc(pid);
  for (const p of [...t.kernel.files.keys()]) if (p.startsWith(`${dir}/`)) t.kernel.files.delete(p);
  t.kernel.links.delete(t.paths.netns(pid));
}

const rows = (c: NetnsCensus) => c.namespaces.map((r) => ({ key: r.key, inode: r.inode, pid: r.pid, host: r.host, entries: r.entries, podUid: r.podUid }));

test('census of the fixture as root: three namespaces, keyed by net/stat, named by ns/net, entries and pods as the kernel showed them', async () => {
  const t = tree();
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(rows(census), [
    // pid 1's own link is refused even to root here (it holds a capability we lack); the host is ours, named by self.
    { ...HOST, pid: 1, host: true, entries: 1, podUid: null },
    { ...NS_A, pid: 30618, host: false, entries: 7, podUid: POD_A },
    { ...NS_B, pid: 30620, host: false, entries: 12, podUid: POD_B },
  ]);
  assert.equal(census.hostKey, HOST.key);
  assert.deepEqual(
    census.namespaces.map((r) => r.ours),
    [true, false, false],
  );
  assert.deepEqual([census.processes, census.unreadableProcesses, census.vanishedProcesses, census.inodesUnread], [6, 0, 0, 0]);
  assert.deepEqual(census.unreadable, []);
  assert.deepEqual(census.namespaces[2]!.counters, {
    clashResolve: 0,
    found: 0,
    new: 0,
    invalid: 0,
    ignore: 0,
    delete: 0,
    chainTooLong: 0,
    insert: 0,
    insertFailed: 0,
    drop: 0,
    earlyDrop: 0,
    icmpError: 0,
    expectNew: 0,
    expectCreate: 0,
    expectDelete: 0,
    searchRestart: 0,
  });
  // Bounded work: one stat per pid (and self's), one readlink per namespace not ours, files of one process per namespace.
  assert.deepEqual(t.stats.sort(), [...['1', '30452', '30618', '30619', '30620', '30621', 'self'].map((pid) => t.paths.netStat(pid))].sort());
  assert.deepEqual(t.links.sort(), [t.paths.netns('30618'), t.paths.netns('30620')]);
  assert.deepEqual(t.reads.sort(), [...['1', '30618', '30620'].flatMap((pid) => [t.paths.cgroup(pid), t.paths.statFile(pid)]), t.paths.slabinfo()].sort());
  assert.deepEqual(census.slab, { activeObjects: 250032, totalObjects: 250032, objectSize: 256 });
});

test('without ptrace rights (links as root without CAP_SYS_PTRACE read them): every namespace and count still there, names only for ours', async () => {
  for (const isRoot of [true, false]) {
    const t = tree({ links: 'links-without-ptrace.json' });
    const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot }), SELF);
    assert.deepEqual(rows(census), [
      { ...HOST, pid: 1, host: true, entries: 1, podUid: null },
      { ...NS_A, inode: null, pid: 30618, host: false, entries: 7, podUid: POD_A },
      { ...NS_B, inode: null, pid: 30620, host: false, entries: 12, podUid: POD_B },
    ]);
    assert.equal(census.inodesUnread, 2);
    assert.equal(census.unreadableProcesses, 0);
    assert.deepEqual(
      census.unreadable.map((u) => [u.path, u.code, u.needsRoot]),
      [[t.paths.netns('30618'), 'EACCES', !isRoot]],
    );
    assert.match(census.unreadable[0]!.what, /of 2 namespace\(s\).*ptrace/);
  }
});

test('a process that exits between its stat and its files: the next process of its namespace is read', async () => {
  const t = tree();
  const files: KernelFiles = {
    ...t.files,
    inode: async (p) => {
      const key = await t.files.inode(p);
      if (p === t.paths.netStat('30618')) exitProcess(t, '30618');
      return key;
    },
  };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(rows(census)[1], { ...NS_A, pid: 30619, host: false, entries: 7, podUid: POD_A });
  assert.equal(census.vanishedProcesses, 1);
  assert.deepEqual(census.unreadable, []);
});

test('a process listed but gone before its stat is skipped silently; a namespace whose every process exited is gone', async () => {
  const t = tree();
  const listed = await t.files.list(t.paths.proc());
  exitProcess(t, '30620'); // listed (the listing was taken before), gone before its stat
  const files: KernelFiles = {
    ...t.files,
    list: async () => listed,
    inode: async (p) => {
      const key = await t.files.inode(p);
      if (p === t.paths.netStat('30619')) ['30618', '30619'].forEach((pid) => exitProcess(t, pid));
      return key;
    },
  };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(
    census.namespaces.map((r) => [r.key, r.pid]),
    [
      [HOST.key, 1],
      [NS_B.key, 30621],
    ],
  );
  assert.equal(census.vanishedProcesses, 3);
  assert.equal(census.unreadableProcesses, 0);
});

test('a pid whose net/stat cannot be looked at (not gone): counted and named once; its namespace is read through another', async () => {
  const t = tree();
  const files: KernelFiles = {
    ...t.files,
    inode: async (p) => (p === t.paths.netStat('30620') ? Promise.reject(errno('EACCES', 'stat', p)) : t.files.inode(p)),
  };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(rows(census)[2], { ...NS_B, pid: 30621, host: false, entries: 12, podUid: POD_B });
  assert.equal(census.unreadableProcesses, 1);
  assert.deepEqual(census.unreadable, [
    { what: 'network namespaces of 1 process(es) (the first shown)', path: t.paths.netStat('30620'), code: 'EACCES', needsRoot: false },
  ]);
});

test('a kernel without the stat file: namespaces and pods still listed, entries null, named once', async () => {
  const t = tree();
  for (const p of [...t.kernel.files.keys()]) if (p.endsWith('/net/stat/nf_conntrack')) t.kernel.files.delete(p);
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(
    rows(census).map((r) => [r.key, r.entries, r.podUid]),
    [
      [HOST.key, null, null],
      [NS_A.key, null, POD_A],
      [NS_B.key, null, POD_B],
    ],
  );
  assert.deepEqual(
    census.unreadable.map((u) => [u.what, u.code]),
    [['per-namespace conntrack stat file', 'ENOENT']],
  );
  assert.equal(census.vanishedProcesses, 0);
});

test('a stat file that does not parse: that namespace has no entries, the reason is named', async () => {
  const t = tree();
  t.kernel.set(t.paths.statFile('30620'), 'entries found\n0000000c\n');
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.equal(census.namespaces[2]!.entries, null);
  assert.match(census.unreadable[0]!.what, /1 values for 2 columns/);
  assert.equal(census.unreadable[0]!.code, 'EINVAL');
});

test('proc root not listable: an empty census naming it', async () => {
  const t = tree();
  const files: KernelFiles = { ...t.files, list: async () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(census.namespaces, []);
  assert.deepEqual(census.unreadable, [{ what: 'process list (network namespaces)', path: t.paths.proc(), code: 'EACCES', needsRoot: false }]);
});

const hostCases: Array<{ name: string; selfHost: boolean | null; ours: number | null; pid1: number | null; want: number | null }> = [
  { name: 'we are in the host namespace', selfHost: true, ours: HOST.key, pid1: null, want: HOST.key },
  { name: 'a pod reading the host /proc: pid 1 is elsewhere', selfHost: false, ours: NS_A.key, pid1: HOST.key, want: HOST.key },
  { name: 'a container reading its own /proc: pid 1 shares our namespace', selfHost: false, ours: NS_A.key, pid1: NS_A.key, want: null },
  { name: 'not host and pid 1 not found', selfHost: false, ours: NS_A.key, pid1: null, want: null },
  { name: 'unknown whether we are the host', selfHost: null, ours: NS_A.key, pid1: HOST.key, want: null },
];
for (const c of hostCases) {
  test(`host namespace: ${c.name}`, () => assert.equal(hostKeyOf(c.selfHost, c.ours, c.pid1), c.want));
}

test('the nf_conntrack slab line: active and total objects, object size; null without the slab', () => {
  assert.deepEqual(parseConntrackSlab(fixtureText('netns-census', 'proc/slabinfo')), { activeObjects: 250032, totalObjects: 250032, objectSize: 256 });
  assert.deepEqual(parseConntrackSlab(fixtureText('host-6.18', 'proc/slabinfo')), { activeObjects: 32, totalObjects: 32, objectSize: 256 });
  assert.equal(parseConntrackSlab(fixtureText('not-loaded', 'proc/slabinfo')), null);
});

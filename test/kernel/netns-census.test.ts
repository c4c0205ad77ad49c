// The census over test/fixtures/netns-census (copied from this kernel: the host
// namespace and two test namespaces holding 7 and 12 UDP entries, their
// processes in kubelet-style cgroups) and over faults injected into it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostInodeOf, readNetnsCensus, type NetnsCensus } from '../../src/kernel/netns-census.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { parseConntrackSlab } from '../../src/kernel/host-facts.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';

const HOST = 4026531833;
const NS_A = 4026532249; // pids 21035, 21036; cgroupfs-style pod cgroup
const NS_B = 4026532318; // pid 21037 (21038's link: EACCES); systemd-style pod cgroup
const POD_A = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';
const POD_B = '5d2c7e44-1b9a-4f0e-8c3d-6a7b8c9d0e1f';
const SELF = { host: true, inode: HOST };

/** The fixture's kernel, with every read and readLink counted by path. */
function tree() {
  const t = loadFixtureTree('netns-census');
  const reads: string[] = [];
  const links: string[] = [];
  const files: KernelFiles = {
    read: (p) => (reads.push(p), t.kernel.read(p)),
    readLink: (p) => (links.push(p), t.kernel.readLink(p)),
    list: (d) => t.kernel.list(d),
    write: (p, d) => t.kernel.write(p, d),
    canWrite: (p) => t.kernel.canWrite(p),
    mode: (p) => t.kernel.mode(p),
    stream: (p) => t.kernel.stream(p),
  };
  return { ...t, files, reads, links };
}

/** Remove a process from the fake /proc, as its exit does. */
function exitProcess(t: ReturnType<typeof tree>, pid: string): void {
  const dir = t.paths.proc(pid);
  for (const p of [...t.kernel.files.keys()]) if (p.startsWith(`${dir}/`)) t.kernel.files.delete(p);
  t.kernel.links.delete(t.paths.netns(pid));
}

const rows = (c: NetnsCensus) => c.namespaces.map((r) => ({ inode: r.inode, pid: r.pid, host: r.host, entries: r.entries, podUid: r.podUid }));

test('census of the fixture: three namespaces, entries and pods as the kernel showed them; pid 1 and 21038 unreadable', async () => {
  const t = tree();
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(rows(census), [
    { inode: HOST, pid: 20652, host: true, entries: 5, podUid: null },
    { inode: NS_A, pid: 21035, host: false, entries: 7, podUid: POD_A },
    { inode: NS_B, pid: 21037, host: false, entries: 12, podUid: POD_B },
  ]);
  assert.equal(census.hostInode, HOST);
  assert.deepEqual(
    census.namespaces.map((r) => r.ours),
    [true, false, false],
  );
  assert.equal(census.processes, 6);
  assert.equal(census.unreadableProcesses, 2);
  assert.equal(census.vanishedProcesses, 0);
  assert.deepEqual(census.unreadable, [
    { what: 'network namespaces of 2 process(es) (the first shown)', path: t.paths.netns('1'), code: 'EACCES', needsRoot: false },
  ]);
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
  // Bounded work: one readlink per pid, and only one process per namespace has its files read.
  assert.equal(t.links.length, 6);
  assert.deepEqual(t.reads.sort(), [...['20652', '21035', '21037'].flatMap((pid) => [t.paths.cgroup(pid), t.paths.statFile(pid)]), t.paths.slabinfo()].sort());
  assert.deepEqual(census.slab, { activeObjects: 64, totalObjects: 64, objectSize: 256 });
});

test('without root, the unreadable pids are said to need it', async () => {
  const t = tree();
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: false }), SELF);
  assert.equal(census.unreadable[0]!.needsRoot, true);
});

test('a process that exits between its readlink and its files: the next process of its namespace is read', async () => {
  const t = tree();
  const files: KernelFiles = {
    ...t.files,
    readLink: async (p) => {
      const target = await t.files.readLink(p);
      if (p === t.paths.netns('21035')) exitProcess(t, '21035');
      return target;
    },
  };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(rows(census)[1], { inode: NS_A, pid: 21036, host: false, entries: 7, podUid: POD_A });
  assert.equal(census.vanishedProcesses, 1);
  assert.deepEqual(
    census.unreadable.map((u) => u.code),
    ['EACCES'],
  );
});

test('a process listed but gone before its readlink is skipped silently; a namespace whose every process exited is gone', async () => {
  const t = tree();
  t.kernel.links.delete(t.paths.netns('21037')); // listed (its files remain for list()), link already gone
  const files: KernelFiles = {
    ...t.files,
    readLink: async (p) => {
      const target = await t.files.readLink(p);
      if (p === t.paths.netns('21036')) ['21035', '21036'].forEach((pid) => exitProcess(t, pid));
      return target;
    },
  };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(
    census.namespaces.map((r) => r.inode),
    [HOST],
  );
  assert.equal(census.vanishedProcesses, 3);
  assert.equal(census.unreadableProcesses, 2);
});

test('a kernel without the stat file: namespaces and pods still listed, entries null, named once', async () => {
  const t = tree();
  for (const p of [...t.kernel.files.keys()]) if (p.endsWith('/net/stat/nf_conntrack')) t.kernel.files.delete(p);
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(
    rows(census).map((r) => [r.inode, r.entries, r.podUid]),
    [
      [HOST, null, null],
      [NS_A, null, POD_A],
      [NS_B, null, POD_B],
    ],
  );
  assert.deepEqual(
    census.unreadable.map((u) => [u.what, u.code]),
    [
      ['network namespaces of 2 process(es) (the first shown)', 'EACCES'],
      ['per-namespace conntrack stat file', 'ENOENT'],
    ],
  );
  assert.equal(census.vanishedProcesses, 0);
});

test('a stat file that does not parse: that namespace has no entries, the reason is named', async () => {
  const t = tree();
  t.kernel.set(t.paths.statFile('21037'), 'entries found\n0000000c\n');
  const census = await readNetnsCensus(fakeHost(t.files, t.paths, { isRoot: true }), SELF);
  assert.equal(census.namespaces[2]!.entries, null);
  assert.match(census.unreadable[1]!.what, /1 values for 2 columns/);
  assert.equal(census.unreadable[1]!.code, 'EINVAL');
});

test('proc root not listable: an empty census naming it', async () => {
  const t = tree();
  const files: KernelFiles = { ...t.files, list: async () => Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) };
  const census = await readNetnsCensus(fakeHost(files, t.paths, { isRoot: true }), SELF);
  assert.deepEqual(census.namespaces, []);
  assert.deepEqual(census.unreadable, [{ what: 'process list (network namespaces)', path: t.paths.proc(), code: 'EACCES', needsRoot: false }]);
});

const hostCases: Array<{ name: string; self: { host: boolean | null; inode: number | null }; pid1: number | null; want: number | null }> = [
  { name: 'we are in the host namespace', self: { host: true, inode: HOST }, pid1: null, want: HOST },
  { name: 'a pod reading the host /proc: pid 1 is elsewhere', self: { host: false, inode: NS_A }, pid1: HOST, want: HOST },
  { name: 'a container reading its own /proc: pid 1 shares our namespace', self: { host: false, inode: NS_A }, pid1: NS_A, want: null },
  { name: 'not host and pid 1 unreadable', self: { host: false, inode: NS_A }, pid1: null, want: null },
  { name: 'unknown whether we are the host', self: { host: null, inode: NS_A }, pid1: HOST, want: null },
];
for (const c of hostCases) {
  test(`host namespace: ${c.name}`, () => assert.equal(hostInodeOf(c.self, c.pid1), c.want));
}

test('the nf_conntrack slab line: active and total objects, object size; null without the slab', () => {
  assert.deepEqual(parseConntrackSlab(fixtureText('netns-census', 'proc/slabinfo')), { activeObjects: 64, totalObjects: 64, objectSize: 256 });
  assert.deepEqual(parseConntrackSlab(fixtureText('host-6.18', 'proc/slabinfo')), { activeObjects: 32, totalObjects: 32, objectSize: 256 });
  assert.equal(parseConntrackSlab(fixtureText('not-loaded', 'proc/slabinfo')), null);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readHostSnapshot, type HostSnapshot } from '../../src/kernel/snapshot.js';
import { readConntrackSysctls, parseSysctlNumber } from '../../src/kernel/sysctls.js';
import { findKubernetesProcesses, parseConntrackSlab, parseNetnsInode } from '../../src/kernel/host-facts.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';
import { FakeRunner } from '../support/fake-runner.js';

const MEM_TOTAL = 24684096 * 1024; // MemTotal of the machine the trees were copied from
const KERNEL = '6.18.44-fc-v595';

async function snapshotOf(
  tree: string,
  runner = new FakeRunner({}),
  isRoot = true,
): Promise<{ snap: HostSnapshot; paths: ReturnType<typeof loadFixtureTree>['paths'] }> {
  const { kernel, paths } = loadFixtureTree(tree, { live: true });
  return { snap: await readHostSnapshot(fakeHost(kernel, paths, { runner, isRoot })), paths };
}

test('host-6.18: this machine, stat file present, pid 1 ns link refused, host namespace told by the writable max', async () => {
  const { snap, paths } = await snapshotOf('host-6.18');
  assert.equal(snap.kernelRelease, KERNEL);
  assert.equal(snap.moduleLoaded, true);
  assert.deepEqual(snap.table, { count: 0, max: 262144, buckets: 262144, hashsize: 262144 });
  assert.deepEqual(snap.memory, { memTotalBytes: MEM_TOTAL, slabObjectSize: 256 });
  assert.deepEqual(snap.netns, { host: true, inode: 4026531833 });
  assert.deepEqual(snap.kubeProxy, { running: false, pids: [] });
  assert.equal(snap.stats.source, 'stat-file');
  assert.equal(snap.stats.cpus, 2);
  assert.equal(snap.stats.entries, 0);
  assert.equal(snap.stats.counters!.drop, 0);
  assert.equal(snap.sysctls.nf_conntrack_tcp_timeout_established, 432000);
  assert.equal(Object.keys(snap.sysctls).length, 41); // every nf_conntrack_* file of the netfilter dir
  assert.ok(!('nf_log' in snap.sysctls) && !('nf_hooks_lwtunnel' in snap.sysctls));
  // This sandbox refuses /proc/1/ns/net even to root; nf_conntrack_max's mode (0644) answered instead.
  assert.deepEqual(snap.unreadable, []);
  void paths;
});

test('with-table: a filled namespace (not the host: nf_conntrack_max is 0444 there)', async () => {
  const { snap } = await snapshotOf('with-table');
  assert.equal(snap.netns.host, false);
  assert.deepEqual(snap.table, { count: 23, max: 262144, buckets: 262144, hashsize: 262144 });
  assert.equal(snap.stats.entries, 23);
  assert.equal(snap.netns.inode, 4026532177);
  assert.equal(snap.sysctls.nf_conntrack_udp_timeout, 3000);
});

test('no-stat-file: counters from conntrack -S', async () => {
  const runner = new FakeRunner({ 'conntrack -S': { code: 0, stdout: fixtureText('no-stat-file', 'conntrack-S.txt'), stderr: '' } });
  const { snap } = await snapshotOf('no-stat-file', runner);
  assert.equal(snap.stats.source, 'conntrack -S');
  assert.equal(snap.stats.entries, null);
  assert.equal(snap.stats.counters!.earlyDrop, 0);
  assert.deepEqual(runner.commandLines(), ['conntrack -S']);
});

test('no-stat-file without CAP_NET_ADMIN: counters unreadable, named, no throw', async () => {
  const stderr = fixtureText('no-stat-file', 'conntrack-S-without-cap-net-admin.stderr');
  const { snap } = await snapshotOf('no-stat-file', new FakeRunner({ 'conntrack -S': { code: 1, stdout: '', stderr } }), false);
  assert.equal(snap.stats.source, null);
  assert.equal(snap.stats.counters, null);
  assert.ok(snap.unreadable.some((u) => u.path === 'conntrack -S' && u.code === 'EPERM' && u.needsRoot));
});

test('not-loaded: no data, no crash, nothing spawned', async () => {
  const runner = new FakeRunner({});
  const { snap } = await snapshotOf('not-loaded', runner);
  assert.equal(snap.moduleLoaded, false);
  assert.deepEqual(snap.table, { count: null, max: null, buckets: null, hashsize: null });
  assert.deepEqual(snap.sysctls, {});
  assert.deepEqual(snap.stats, { source: null, counters: null, entries: null, cpus: 0, missing: [] });
  assert.equal(snap.memory.slabObjectSize, null);
  assert.equal(snap.memory.memTotalBytes, MEM_TOTAL);
  assert.equal(snap.kernelRelease, KERNEL);
  assert.deepEqual(runner.calls, []);
  assert.deepEqual(
    snap.unreadable.map((u) => u.code),
    ['EACCES'],
  ); // only pid 1's ns link, as on host-6.18
});

test('not root: slabinfo EACCES is named as needing root', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18');
  kernel.failRead(paths.slabinfo(), 'EACCES');
  const snap = await readHostSnapshot(fakeHost(kernel, paths, { isRoot: false }));
  assert.equal(snap.memory.slabObjectSize, null);
  assert.deepEqual(
    snap.unreadable.filter((u) => u.needsRoot),
    [{ what: 'nf_conntrack slab object size', path: paths.slabinfo(), code: 'EACCES', needsRoot: true }],
  );
});

test("host network namespace: the kernel's answer (max 0644 vs 0444) wins over the ns links", async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18');
  // A container without hostPID shares pid 1's namespace: the links agree, yet this is not the host.
  kernel.link(paths.netns('1'), 'net:[4026531833]');
  kernel.files.get(paths.sysctl('nf_conntrack_max'))!.mode = 0o444;
  const snap = await readHostSnapshot(fakeHost(kernel, paths, { isRoot: true }));
  assert.deepEqual(snap.netns, { host: false, inode: 4026531833 });
  assert.deepEqual(snap.unreadable, []);
  kernel.files.get(paths.sysctl('nf_conntrack_max'))!.mode = 0o644;
  assert.equal((await readHostSnapshot(fakeHost(kernel, paths))).netns.host, true);
});

test('kube-proxy and kubelet: found by comm; a pid that vanishes mid-scan is skipped', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18');
  const before = (await findKubernetesProcesses(fakeHost(kernel, paths))).value;
  assert.deepEqual(before, { kubeProxy: { running: false, pids: [] }, kubeletRunning: false }, 'the copied host runs neither');
  kernel.set(paths.comm('4242'), 'kube-proxy\n');
  kernel.set(paths.proc('4243', 'status'), 'Name: gone\n'); // listed, but its comm is gone (ENOENT)
  kernel.set(paths.comm('4244'), 'kubelet\n');
  assert.deepEqual((await findKubernetesProcesses(fakeHost(kernel, paths))).value, { kubeProxy: { running: true, pids: [4242] }, kubeletRunning: true });
  assert.equal((await readHostSnapshot(fakeHost(kernel, paths))).kubeletRunning, true);
});

test('sysctls: non-numeric values and directories are skipped, not errors', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18');
  kernel.set(paths.sysctl('nf_conntrack_helper_names'), 'ftp sip\n');
  const got = await readConntrackSysctls(fakeHost(kernel, paths));
  assert.equal(got.values.nf_conntrack_helper_names, undefined);
  assert.deepEqual(got.unreadable, []);
  kernel.failRead(paths.sysctl('nf_conntrack_max'), 'EACCES');
  const refused = await readConntrackSysctls(fakeHost(kernel, paths, { isRoot: false }));
  assert.equal(refused.values.nf_conntrack_max, 262144, 'falls back to /proc/sys/net/nf_conntrack_max');
  assert.deepEqual(
    refused.unreadable.map((u) => [u.what, u.code, u.needsRoot]),
    [['sysctl nf_conntrack_max', 'EACCES', true]],
  );
});

test('small parsers', () => {
  assert.equal(parseSysctlNumber('262144\n'), 262144);
  assert.equal(parseSysctlNumber('4096 8192\n'), null);
  assert.equal(parseNetnsInode('net:[4026531833]'), 4026531833);
  assert.equal(parseNetnsInode('mnt:[1]'), null);
  assert.equal(parseConntrackSlab(fixtureText('not-loaded', 'proc/slabinfo')), null);
  assert.equal(parseConntrackSlab(fixtureText('host-6.18', 'proc/slabinfo'))?.objectSize, 256);
});

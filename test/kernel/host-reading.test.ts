// A pass's reading of the host (readHostReading) walks every pid once and
// reads /proc/slabinfo once: the kube-proxy/kubelet scan and the namespace
// census share the walk (issue #22). Over test/fixtures/netns-census (6 pids,
// 3 namespaces), every file access counted by path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { readHostReading } from '../../src/kernel/snapshot.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';

const PIDS = ['1', '30452', '30618', '30619', '30620', '30621'];

function countedTree() {
  const t = loadFixtureTree('netns-census');
  // The capture holds no sysctls: give the module, so the census runs.
  t.kernel.set(t.paths.sysctl('nf_conntrack_max'), '262144\n');
  t.kernel.set(t.paths.sysctl('nf_conntrack_count'), '1\n');
  t.kernel.set(t.paths.comm('30618'), 'kube-proxy\n');
  t.kernel.set(t.paths.comm('30620'), 'kubelet\n');
  const calls = new Map<string, number>();
  const count = (what: string, p: string) => calls.set(`${what} ${p}`, (calls.get(`${what} ${p}`) ?? 0) + 1);
  const files: KernelFiles = {
    read: (p) => (count('read', p), t.kernel.read(p)),
    readLink: (p) => (count('readLink', p), t.kernel.readLink(p)),
    inode: (p) => (count('inode', p), t.kernel.inode(p)),
    linkCount: (p) => t.kernel.linkCount(p),
    list: (d) => (count('list', d), t.kernel.list(d)),
    write: (p, d) => t.kernel.write(p, d),
    canWrite: (p) => t.kernel.canWrite(p),
    mode: (p) => t.kernel.mode(p),
    stream: (p) => t.kernel.stream(p),
  };
  return { ...t, files, calls };
}

test('one pass: the proc root listed once, each pid stat-ed and its comm read once, slabinfo read once', async () => {
  const t = countedTree();
  const { snapshot, census } = await readHostReading(fakeHost(t.files, t.paths, { isRoot: true }));
  const n = (what: string, p: string) => t.calls.get(`${what} ${p}`) ?? 0;
  assert.equal(n('list', t.paths.proc()), 1, 'the proc root');
  for (const pid of PIDS) {
    assert.equal(n('read', t.paths.comm(pid)), 1, `comm of ${pid}`);
    assert.equal(n('inode', t.paths.netStat(pid)), 1, `net/stat of ${pid}`);
  }
  assert.equal(n('read', t.paths.slabinfo()), 1, 'slabinfo');
  // What both readers got from the one walk and the one slab read.
  assert.deepEqual(snapshot.kubeProxy, { running: true, pids: [30618] });
  assert.equal(snapshot.kubeletRunning, true);
  assert.equal(snapshot.memory.slabObjectSize, 256);
  assert.deepEqual(
    census?.namespaces.map((r) => [r.pid, r.entries]),
    [
      [1, 1],
      [30618, 7],
      [30620, 12],
    ],
  );
  assert.equal(census?.processes, 6);
  assert.deepEqual(census?.slab, { activeObjects: 250032, totalObjects: 250032, objectSize: 256 });
});

test('without the module: no census and no slab read, the walk still finds kube-proxy', async () => {
  const t = countedTree();
  t.kernel.files.delete(t.paths.sysctl('nf_conntrack_max'));
  t.kernel.files.delete(t.paths.sysctl('nf_conntrack_count'));
  const { snapshot, census } = await readHostReading(fakeHost(t.files, t.paths, { isRoot: true }));
  assert.equal(snapshot.moduleLoaded, false);
  assert.equal(census, null);
  assert.equal(t.calls.get(`read ${t.paths.slabinfo()}`), undefined);
  assert.deepEqual(snapshot.kubeProxy, { running: true, pids: [30618] });
});

test('a proc root that cannot be listed: named once by each reader, nothing else lost', async () => {
  const t = countedTree();
  const files: KernelFiles = {
    ...t.files,
    list: (d) => (d === t.paths.proc() ? Promise.reject(Object.assign(new Error('EACCES'), { code: 'EACCES' })) : t.files.list(d)),
  };
  const { snapshot, census } = await readHostReading(fakeHost(files, t.paths, { isRoot: false }));
  assert.equal(snapshot.kubeProxy, null);
  assert.deepEqual(
    [...snapshot.unreadable, ...(census?.unreadable ?? [])].filter((u) => u.path === t.paths.proc()).map((u) => [u.what, u.code, u.needsRoot]),
    [
      ['process list (kube-proxy, kubelet)', 'EACCES', true],
      ['process list (network namespaces)', 'EACCES', true],
    ],
  );
  assert.equal(snapshot.memory.slabObjectSize, 256);
  assert.deepEqual(census?.slab?.objectSize, 256);
});

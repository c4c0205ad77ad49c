import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readObservedState } from '../../src/kernel/observed-state.js';
import type { WriteRefusal } from '../support/fake-kernel.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';

const HOST_NS = 'net:[4026531833]';

/** A fixture tree with the write refusals the real kernel applies there (file modes come from the tree's modes.json). */
function tree(name: string, pid1Link: string, refusals: Record<string, WriteRefusal>) {
  const t = loadFixtureTree(name);
  t.kernel.link(t.paths.netns('1'), pid1Link);
  for (const [key, refuse] of Object.entries(refusals)) {
    const path = key === 'hashsize' ? t.paths.hashsizeParam() : t.paths.sysctl(key);
    t.kernel.set(path, { ...t.kernel.files.get(path)!, refuse });
  }
  return t;
}

test('host namespace of this kernel: every key writable but the count; buckets via the sysctl', async () => {
  const { kernel, paths } = tree('host-6.18', HOST_NS, { nf_conntrack_count: 'EACCES' });
  const got = await readObservedState(fakeHost(kernel, paths));
  assert.equal(got.hostNetns, true);
  assert.deepEqual(got.sysctls.nf_conntrack_count, { value: 0, writable: false, reason: 'read-only: the kernel reports it, nobody writes it' });
  assert.deepEqual(got.sysctls.nf_conntrack_max, { value: 262144, writable: true });
  assert.deepEqual(got.sysctls.nf_conntrack_tcp_timeout_established, { value: 432000, writable: true });
  assert.equal(Object.keys(got.sysctls).length, 41);
  assert.deepEqual(got.buckets, { value: 262144, via: 'sysctl' });
});

test('a pod/test namespace: max and buckets read-only there, /sys read-only: no bucket control', async () => {
  const { kernel, paths } = tree('with-table', HOST_NS, {
    nf_conntrack_count: 'EACCES',
    nf_conntrack_max: 'EACCES',
    nf_conntrack_buckets: 'EACCES',
    hashsize: 'EROFS',
  });
  const got = await readObservedState(fakeHost(kernel, paths));
  assert.equal(got.hostNetns, false);
  assert.deepEqual(got.sysctls.nf_conntrack_max, { value: 262144, writable: false, reason: 'read-only outside the host network namespace' });
  assert.deepEqual(got.sysctls.nf_conntrack_udp_timeout, { value: 3000, writable: true });
  assert.deepEqual(got.buckets, {
    value: 262144,
    via: null,
    reason:
      'neither nf_conntrack_buckets nor the hashsize module parameter is writable here (read-only outside the host network namespace; hashsize module parameter not writable: read-only /sys or not root)',
  });
});

test('old kernel: nf_conntrack_buckets read-only even on the host, hashsize writable', async () => {
  const { kernel, paths } = tree('host-6.18', HOST_NS, { nf_conntrack_buckets: 'EACCES' });
  const got = await readObservedState(fakeHost(kernel, paths));
  assert.equal(got.sysctls.nf_conntrack_buckets!.writable, false);
  assert.deepEqual(got.buckets, { value: 262144, via: 'hashsize' });
});

test('not loaded: nothing to observe', async () => {
  const { kernel, paths } = tree('not-loaded', HOST_NS, {});
  assert.deepEqual(await readObservedState(fakeHost(kernel, paths)), { sysctls: {}, buckets: null, hostNetns: true });
});

test('pid 1 unreadable: the read-only (0444) nf_conntrack_max tells a non-host namespace', async () => {
  const { kernel, paths } = loadFixtureTree('with-table'); // links.json: EACCES on /proc/1/ns/net; modes.json: max 0444
  kernel.set(paths.sysctl('nf_conntrack_max'), { content: '262144\n', refuse: 'EACCES', mode: 0o444 });
  const got = await readObservedState(fakeHost(kernel, paths));
  assert.equal(got.hostNetns, false);
  assert.deepEqual(got.sysctls.nf_conntrack_max, { value: 262144, writable: false, reason: 'read-only outside the host network namespace' });
});

test('host namespace but not root: global keys get the hedged reason', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18'); // max 0644: the host namespace
  kernel.set(paths.sysctl('nf_conntrack_max'), { content: '262144\n', refuse: 'EACCES', mode: 0o644 });
  const got = await readObservedState(fakeHost(kernel, paths));
  assert.equal(got.hostNetns, true);
  assert.deepEqual(got.sysctls.nf_conntrack_max, { value: 262144, writable: false, reason: 'read-only here: outside the host network namespace, or not root' });
});

for (const [code, reason] of [
  ['EACCES', 'present but not readable here: permission denied (EACCES)'],
  ['EPERM', 'present but not readable here: operation not permitted (EPERM)'],
] as const) {
  test(`a sysctl listed but refused on read (${code}) is named with its reason`, async () => {
    const { kernel, paths } = tree('host-6.18', HOST_NS, {});
    const path = paths.sysctl('nf_conntrack_udp_timeout');
    kernel.set(path, { ...kernel.files.get(path)!, refuseRead: code });
    const fresh = await readObservedState(fakeHost(kernel, paths));
    assert.equal(fresh.sysctls.nf_conntrack_udp_timeout, undefined);
    assert.deepEqual(fresh.unreadable, { nf_conntrack_udp_timeout: reason });
  });
}

test('every sysctl readable: no unreadable map at all', async () => {
  const { kernel, paths } = tree('host-6.18', HOST_NS, {});
  assert.equal((await readObservedState(fakeHost(kernel, paths))).unreadable, undefined);
});

// Whether conntrack-tools answer for the tree under --proc-root: only when the
// tree is this process's own live procfs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostPaths } from '../../src/kernel/host-paths.js';
import { RealKernelFiles } from '../../src/kernel/kernel-files.js';
import { netlinkAnswersForTree } from '../../src/kernel/netlink-scope.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';

const paths = (procRoot: string) => new HostPaths({ procRoot, sysRoot: '/sys' });

test('the live procfs, at /proc or reached through another path (as /host/proc in a pod), is this kernel', async () => {
  const files = new RealKernelFiles();
  assert.equal(await netlinkAnswersForTree(fakeHost(files, paths('/proc'))), true);
  // The same procfs seen through our root's /proc: its "self" is us, as the host's /proc mounted in a pod.
  assert.equal(await netlinkAnswersForTree(fakeHost(files, paths('/proc/self/root/proc'))), true);
});

test('a copied tree is not, whether or not it holds a self/ns/net link', async () => {
  const files = new RealKernelFiles();
  assert.equal(await netlinkAnswersForTree(fakeHost(files, paths('/nonexistent-i11/proc'))), false);
  const copied = loadFixtureTree('host-6.18'); // links.json gives it a self/ns/net of the machine it came from
  assert.equal(await netlinkAnswersForTree(fakeHost(copied.kernel, copied.paths)), false);
  const live = loadFixtureTree('host-6.18', { live: true });
  assert.equal(await netlinkAnswersForTree(fakeHost(live.kernel, live.paths)), true);
});

// The node's own addresses from real routing tables (test/fixtures/kube-proxy-nat/node.*).
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseFibTrieLocal, parseIpv6RouteLocal, readLocalAddresses } from '../../../src/kernel/nat/local-addresses.js';
import { HostPaths } from '../../../src/kernel/host-paths.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { fakeHost } from '../../support/fake-host.js';

const fixture = (f: string) => readFileSync(new URL(`../../fixtures/kube-proxy-nat/${f}`, import.meta.url), 'utf8');

it('fib_trie: the routes of type LOCAL, once each (the Main and Local views repeat them)', () => {
  assert.deepEqual(parseFibTrieLocal(fixture('node.fib_trie')), ['127.0.0.0/8', '127.0.0.1/32', '192.168.77.10/32']);
});

it('ipv6_route: the routes flagged RTF_LOCAL', () => {
  assert.deepEqual(parseIpv6RouteLocal(fixture('node.ipv6_route')), ['0:0:0:0:0:0:0:1/128', 'fd00:77:0:0:0:0:0:10/128']);
});

it('readLocalAddresses reads both through the host; without IPv6 only ::1; without fib_trie nothing is known', async () => {
  const paths = new HostPaths({ procRoot: '/proc', sysRoot: '/sys' });
  const kernel = new FakeKernel();
  kernel.set('/proc/net/fib_trie', fixture('node.fib_trie'));
  kernel.set('/proc/net/ipv6_route', fixture('node.ipv6_route'));
  assert.deepEqual(await readLocalAddresses(fakeHost(kernel, paths)), {
    cidrs: ['127.0.0.0/8', '127.0.0.1/32', '192.168.77.10/32', '0:0:0:0:0:0:0:1/128', 'fd00:77:0:0:0:0:0:10/128'],
  });
  const v4only = new FakeKernel();
  v4only.set('/proc/net/fib_trie', fixture('node.fib_trie'));
  assert.deepEqual((await readLocalAddresses(fakeHost(v4only, paths)))?.cidrs.at(-1), '::1/128');
  assert.equal(await readLocalAddresses(fakeHost(new FakeKernel(), paths)), null);
});

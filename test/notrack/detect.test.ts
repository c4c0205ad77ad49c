import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createNotrackBackend, detectBackend } from '../../src/kernel/notrack/detect.js';
import { FakeRunner, ok } from '../support/fake-runner.js';
import { fixture } from './fixtures.js';
import { HostPaths } from '../../src/kernel/host-paths.js';
import { FakeKernel } from '../support/fake-kernel.js';
import { fakeHost } from '../support/fake-host.js';

const empty = ok('');
const cases: { name: string; answers: ConstructorParameters<typeof FakeRunner>[0]; want: string }[] = [
  {
    name: 'kubelet hint chains in legacy mangle pick legacy, even with nft rules around',
    answers: {
      'iptables-nft-save': ok(fixture('iptables-nft-save.foreign.txt')),
      'ip6tables-nft-save': empty,
      'iptables-legacy-save': ok(fixture('iptables-legacy-save.kubelet.txt')),
      'ip6tables-legacy-save': empty,
    },
    want: 'iptables-legacy',
  },
  {
    name: 'kubelet hint chains in nft mode pick nft',
    answers: {
      'iptables-nft-save': ok(fixture('iptables-legacy-save.kubelet.txt')),
      'ip6tables-nft-save': empty,
      'iptables-legacy-save': ok(fixture('iptables-legacy-save.foreign.txt')),
      'ip6tables-legacy-save': empty,
    },
    want: 'iptables-nft',
  },
  {
    name: 'no hints: the mode with more rules wins',
    answers: {
      'iptables-nft-save': empty,
      'ip6tables-nft-save': empty,
      'iptables-legacy-save': ok(fixture('iptables-legacy-save.foreign.txt')),
      'ip6tables-legacy-save': empty,
    },
    want: 'iptables-legacy',
  },
  {
    name: 'no rules anywhere: nft, as the wrapper defaults',
    answers: { 'iptables-nft-save': empty, 'ip6tables-nft-save': empty, 'iptables-legacy-save': empty, 'ip6tables-legacy-save': empty },
    want: 'iptables-nft',
  },
  {
    name: 'only legacy tools installed',
    answers: { 'iptables-legacy-save': empty, 'ip6tables-legacy-save': empty },
    want: 'iptables-legacy',
  },
  {
    name: 'no iptables tools at all, nft present',
    answers: { 'nft --version': ok('nftables v1.0.6 (Lester Gooch #5)\n') },
    want: 'nftables',
  },
];

for (const c of cases) {
  test(`detectBackend: ${c.name}`, async () => {
    assert.equal(await detectBackend(new FakeRunner(c.answers)), c.want);
  });
}

test('createNotrackBackend builds the named backend', () => {
  const host = fakeHost(new FakeKernel({}), new HostPaths({ procRoot: '/proc', sysRoot: '/sys' }), { runner: new FakeRunner({}) });
  for (const name of ['iptables-nft', 'iptables-legacy', 'nftables'] as const) {
    assert.equal(createNotrackBackend(name, host).name, name);
  }
});

// NatRulesReader over a recording runner: which tools it calls for which
// tables, what a missing or failing tool means, and how often it reads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NatRulesReader } from '../../../src/kernel/nat/nat-reader.js';
import { HostPaths } from '../../../src/kernel/host-paths.js';
import { FakeKernel } from '../../support/fake-kernel.js';
import { fakeHost } from '../../support/fake-host.js';
import { FakeRunner, ok } from '../../support/fake-runner.js';
import type { CommandResult } from '../../../src/kernel/command-runner.js';

const fixture = (f: string) => readFileSync(new URL(`../../fixtures/kube-proxy-nat/${f}`, import.meta.url), 'utf8');
const paths = new HostPaths({ procRoot: '/proc', sysRoot: '/sys' });
const EMPTY_NAT = '*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n';
const INCOMPATIBLE = "# Table `nat' is incompatible, use 'nft' tool.\n";
const NFT_CHAINS = fixture('nftables-mode.chains.json');
const NFT_RULESET = fixture('nftables-mode.ruleset.json');
const failed = (stderr: string): CommandResult => ({ code: 1, stdout: '', stderr });

/** /proc/self/stat with the children's CPU time in clock ticks (fields 16 and 17). */
function selfStat(childTicks: number): string {
  return `4242 (node) S 1 4242 4242 0 -1 4194560 100 0 0 0 50 20 ${childTicks} 0 20 0 11 0 100 0 0\n`;
}

function kernel(extra: Record<string, string> = {}): FakeKernel {
  return new FakeKernel({ '/proc/net/fib_trie': fixture('node.fib_trie'), '/proc/self/stat': selfStat(0), ...extra });
}

describe('NatRulesReader: sources', () => {
  it('iptables-nft for its nat tables, nft for the other tables with nat chains, no legacy save without a legacy nat table', async () => {
    const runner = new FakeRunner({
      'iptables-nft-save -t nat': ok(fixture('iptables-mode.nat.rules')),
      'ip6tables-nft-save -t nat': ok(EMPTY_NAT),
      'nft -j list chains': ok(NFT_CHAINS),
      'nft -j -s list table ip kube-proxy': ok(NFT_RULESET),
      'nft -j -s list table ip6 kube-proxy': ok('{"nftables": []}'),
    });
    const reading = await new NatRulesReader(fakeHost(kernel(), paths, { runner })).read();
    assert.deepEqual(runner.commandLines(), [
      'iptables-nft-save -t nat',
      'ip6tables-nft-save -t nat',
      'nft -j list chains',
      'nft -j -s list table ip kube-proxy',
      'nft -j -s list table ip6 kube-proxy',
    ]);
    assert.equal(reading.unreadable, undefined);
    assert.deepEqual(reading.sources, {
      'iptables-nft': 'read',
      'iptables-legacy': 'absent',
      'ip6tables-nft': 'read',
      'ip6tables-legacy': 'absent',
      nftables: 'read',
    });
    // iptables-nft's ipv4 and ipv6 nat tables, and what nft listed: the whole fixture ruleset (kube-proxy's tables and the leftover nat ones) once.
    assert.deepEqual(
      reading
        .tables()
        .map((t) => `${t.source} ${t.family} ${t.name}`)
        .sort(),
      ['iptables-nft ipv4 nat', 'iptables-nft ipv6 nat', 'nftables ipv4 kube-proxy', 'nftables ipv4 nat', 'nftables ipv6 kube-proxy', 'nftables ipv6 nat'],
    );
    assert.deepEqual(reading.local?.cidrs, ['127.0.0.0/8', '127.0.0.1/32', '192.168.77.10/32', '::1/128']);
  });

  it('a nat table iptables-nft-save calls incompatible is listed by nft', async () => {
    const runner = new FakeRunner({
      'iptables-nft-save -t nat': ok(INCOMPATIBLE),
      'ip6tables-nft-save -t nat': ok(EMPTY_NAT),
      'nft -j list chains': ok(NFT_CHAINS),
      'nft -j -s list table ip kube-proxy': ok('{"nftables": []}'),
      'nft -j -s list table ip6 kube-proxy': ok('{"nftables": []}'),
      'nft -j -s list table ip nat': ok('{"nftables": []}'),
    });
    const reading = await new NatRulesReader(fakeHost(kernel(), paths, { runner })).read();
    assert.ok(runner.commandLines().includes('nft -j -s list table ip nat'));
    assert.ok(!runner.commandLines().includes('nft -j -s list table ip6 nat'));
    assert.equal(reading.unreadable, undefined);
  });

  it('the legacy save only for a family whose legacy nat table exists', async () => {
    const runner = new FakeRunner({
      'iptables-legacy-save -t nat': ok(fixture('portmap.nat.rules')),
    });
    const k = kernel({ '/proc/net/ip_tables_names': 'filter\nnat\n', '/proc/net/ip6_tables_names': 'filter\n' });
    const reading = await new NatRulesReader(fakeHost(k, paths, { runner })).read();
    assert.deepEqual(runner.commandLines(), ['iptables-nft-save -t nat', 'iptables-legacy-save -t nat', 'ip6tables-nft-save -t nat', 'nft -j list chains']);
    assert.deepEqual(reading.sources, {
      'iptables-nft': 'not-installed',
      'iptables-legacy': 'read',
      'ip6tables-nft': 'not-installed',
      'ip6tables-legacy': 'absent',
      nftables: 'not-installed',
    });
    assert.deepEqual(
      reading.tables().map((t) => `${t.source} ${t.family} ${t.name} ${t.chains.size}`),
      ['iptables-legacy ipv4 nat 10'],
    );
  });

  const unreadable: Array<{ name: string; answers: Record<string, CommandResult>; files?: Record<string, string>; says: RegExp }> = [
    {
      name: 'a save that fails',
      answers: { 'iptables-nft-save -t nat': failed('iptables-nft-save: Permission denied') },
      says: /iptables-nft-save -t nat failed \(exit 1\): iptables-nft-save: Permission denied/,
    },
    { name: 'nft that fails', answers: { 'nft -j list chains': failed('Operation not permitted') }, says: /nft -j list chains failed/ },
    {
      name: 'an incompatible table and no nft',
      answers: { 'iptables-nft-save -t nat': ok(INCOMPATIBLE) },
      says: /cannot show table ip nat and nft is not installed/,
    },
    {
      name: 'a legacy nat table without its save tool',
      answers: {},
      files: { '/proc/net/ip_tables_names': 'nat\n' },
      says: /a legacy ipv4 nat table exists but iptables-legacy-save is not installed/,
    },
  ];
  for (const c of unreadable) {
    it(`unreadable: ${c.name}`, async () => {
      const reading = await new NatRulesReader(fakeHost(kernel(c.files), paths, { runner: new FakeRunner(c.answers) })).read();
      assert.match(reading.unreadable ?? '', c.says);
    });
  }

  it('no tool at all: nothing read, nothing unreadable', async () => {
    const reading = await new NatRulesReader(fakeHost(kernel(), paths, { runner: new FakeRunner({}) })).read();
    assert.equal(reading.unreadable, undefined);
    assert.deepEqual(reading.tables(), []);
  });
});

describe('NatRulesReader: key', () => {
  it('the same rules read again give the same key; a changed rule a new one; the tools CPU is counted', async () => {
    let save = fixture('portmap.nat.rules');
    const runner = new FakeRunner({ 'iptables-nft-save -t nat': () => ok(save) });
    const reader = new NatRulesReader(fakeHost(kernel(), paths, { runner }));
    const a = await reader.read();
    // Dates and legacy's counters change between saves of the same rules.
    save = save.replace(/on Mon Dec {2}7 13:02:27 2026/g, 'on Tue Dec  8 09:00:00 2026').replace(':PREROUTING ACCEPT [0:0]', ':PREROUTING ACCEPT [12:720]');
    const b = await reader.read();
    assert.equal(b.key, a.key);
    save = save.replace('COMMIT', '-A OUTPUT -p tcp -m tcp --dport 9 -j DNAT --to-destination 127.0.0.1:9\nCOMMIT');
    const c = await reader.read();
    assert.notEqual(c.key, a.key);
    assert.equal(c.tables()[0]!.chains.get('OUTPUT')!.rules.length, 2);
  });

  it("a reading's cost is its tools' CPU, as /proc/self/stat counts reaped children", async () => {
    const k = kernel();
    const runner = new FakeRunner({
      'iptables-nft-save -t nat': () => {
        k.set('/proc/self/stat', selfStat(150));
        return ok(EMPTY_NAT);
      },
    });
    assert.equal((await new NatRulesReader(fakeHost(k, paths, { runner })).read()).costMs, 1500);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredNotrackRule } from '../../src/policy/types.js';
import { nftDeleteScript, nftSyncScript, parseNftTable, renderNftLines } from '../../src/kernel/notrack/render-nft.js';
import { fixture } from './fixtures.js';
import { SAMPLE_DESIRED } from './sample-desired.js';

const PRE = 'notrack-pre: type filter hook prerouting priority raw; policy accept;';
const OUT = 'notrack-out: type filter hook output priority raw; policy accept;';
const p = (from: number, to = from) => ({ from, to });

const cases: { rule: DesiredNotrackRule; lines: string[] }[] = [
  {
    rule: { name: 'lo', interface: 'lo', direction: 'both' },
    lines: [PRE, 'notrack-pre: iifname "lo" notrack comment "lo"', OUT, 'notrack-out: oifname "lo" notrack comment "lo"'],
  },
  {
    rule: { name: 'web', protocol: 'tcp', ports: [p(443), p(80), p(8000, 8100)], direction: 'inbound' },
    lines: [
      PRE,
      'notrack-pre: tcp dport { 80, 443, 8000-8100 } notrack comment "web"',
      OUT,
      'notrack-out: tcp sport { 80, 443, 8000-8100 } notrack comment "web"',
    ],
  },
  {
    rule: { name: 'dns', protocol: 'udp', ports: [p(53)], direction: 'outbound' },
    lines: [OUT, 'notrack-out: udp dport 53 notrack comment "dns"', PRE, 'notrack-pre: udp sport 53 notrack comment "dns"'],
  },
  {
    rule: { name: 'merge', protocol: 'udp', ports: [p(80), p(81, 90), p(92)], direction: 'inbound' },
    lines: [PRE, 'notrack-pre: udp dport { 80-90, 92 } notrack comment "merge"', OUT, 'notrack-out: udp sport { 80-90, 92 } notrack comment "merge"'],
  },
  {
    rule: { name: 'single-range', protocol: 'udp', ports: [p(1000), p(1001, 1010)], direction: 'inbound' },
    lines: [PRE, 'notrack-pre: udp dport 1000-1010 notrack comment "single-range"', OUT, 'notrack-out: udp sport 1000-1010 notrack comment "single-range"'],
  },
  {
    rule: { name: 'no-interval', protocol: 'tcp', ports: [p(1001), p(1000)], direction: 'inbound' },
    lines: [
      PRE,
      'notrack-pre: tcp dport { 1000, 1001 } notrack comment "no-interval"',
      OUT,
      'notrack-out: tcp sport { 1000, 1001 } notrack comment "no-interval"',
    ],
  },
  {
    rule: { name: 'udp', protocol: 'udp', direction: 'inbound' },
    lines: [PRE, 'notrack-pre: meta l4proto udp notrack comment "udp"', OUT, 'notrack-out: meta l4proto udp notrack comment "udp"'],
  },
  {
    rule: { name: 'mix', sources: ['10.0.0.0/8', '10.1.2.3/32', 'fd00::/8'], direction: 'inbound' },
    lines: [
      PRE,
      'notrack-pre: ip saddr { 10.0.0.0/8, 10.1.2.3 } notrack comment "mix"',
      OUT,
      'notrack-out: ip daddr { 10.0.0.0/8, 10.1.2.3 } notrack comment "mix"',
      'notrack-pre: ip6 saddr fd00::/8 notrack comment "mix"',
      'notrack-out: ip6 daddr fd00::/8 notrack comment "mix"',
    ],
  },
];

for (const c of cases) {
  test(`renderNftLines: ${c.rule.name}`, () => {
    const lines = renderNftLines({ rules: [c.rule], acceptUntracked: false });
    assert.deepEqual([...lines].sort(), [...c.lines].sort());
  });
}

test('renderNftLines: acceptUntracked adds no chain (accept is not final across base chains)', () => {
  assert.deepEqual(renderNftLines({ rules: [], acceptUntracked: true }), []);
});

test('parseNftTable reads the captured listing back as exactly the rendered lines', () => {
  assert.deepEqual(parseNftTable(fixture('nft-list-table.synced.txt')), renderNftLines(SAMPLE_DESIRED));
});

test('nftSyncScript replaces only our table, in one transaction', () => {
  const script = nftSyncScript({ rules: [{ name: 'lo', interface: 'lo', direction: 'inbound' }], acceptUntracked: false });
  assert.equal(
    script,
    [
      'add table inet conntrack_operator',
      'delete table inet conntrack_operator',
      'table inet conntrack_operator {',
      '  comment "conntrack-operator"',
      '  chain notrack-pre {',
      '    type filter hook prerouting priority raw; policy accept;',
      '    iifname "lo" notrack comment "lo"',
      '  }',
      '  chain notrack-out {',
      '    type filter hook output priority raw; policy accept;',
      '    oifname "lo" notrack comment "lo"',
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  assert.equal(nftSyncScript({ rules: [], acceptUntracked: false }), nftDeleteScript());
  assert.doesNotMatch(script, /inet user|flush ruleset/);
});

test('an iptables interface wildcard ("veth+") is the same wildcard in nft ("veth*")', () => {
  assert.deepEqual(
    renderNftLines({ rules: [{ name: 'pods', interface: 'veth+', direction: 'inbound' }], acceptUntracked: false }).filter((l) =>
      l.includes('notrack comment'),
    ),
    ['notrack-pre: iifname "veth*" notrack comment "pods"', 'notrack-out: oifname "veth*" notrack comment "pods"'],
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalNftLine } from '../../src/kernel/notrack/nft-canonical.js';

// Each row: what we render, and what nft 1.0.6 printed back for it on kernel 6.18
// (captured with the nftables backend in a namespace): the same after canonicalNftLine.
const same: Array<{ name: string; ours: string; nft: string }> = [
  {
    name: 'unsorted, adjacent and host addresses; ports merged',
    ours: 'ip saddr { 10.0.1.0/24, 10.0.0.0/24, 192.168.3.7, 192.168.3.6, 172.16.0.0/12 } tcp dport { 80, 81-90, 443 } notrack comment "messy"',
    nft: 'ip saddr { 10.0.0.0/23, 172.16.0.0/12, 192.168.3.6/31 } tcp dport { 80-90, 443 } notrack comment "messy"',
  },
  {
    name: 'IPv4-mapped IPv6 in hex or dotted form; two /33 halves are one /32',
    ours: 'ip6 daddr { ::ffff:102:304, 2001:db8::/33, 2001:db8:8000::/33 } notrack comment "mapped"',
    nft: 'ip6 daddr { ::ffff:1.2.3.4, 2001:db8::/32 } notrack comment "mapped"',
  },
  { name: 'an overlapping prefix is absorbed', ours: 'ip daddr { 10.0.0.0/8, 10.1.0.0/16 } notrack', nft: 'ip daddr 10.0.0.0/8 notrack' },
  {
    name: 'a merged run that is no prefix is a range',
    ours: 'ip saddr { 10.0.0.0/24, 10.0.1.0/24, 10.0.2.0/24 } notrack',
    nft: 'ip saddr 10.0.0.0-10.0.2.255 notrack',
  },
  { name: 'duplicates', ours: 'udp sport { 53, 53 } notrack', nft: 'udp sport 53 notrack' },
];
for (const c of same) {
  test(`canonicalNftLine: ${c.name}`, () => assert.equal(canonicalNftLine(c.ours), canonicalNftLine(c.nft)));
}

const different: Array<{ name: string; a: string; b: string }> = [
  { name: 'a missing address', a: 'ip saddr { 10.0.0.0/24, 10.0.2.0/24 } notrack', b: 'ip saddr 10.0.0.0/24 notrack' },
  { name: 'a gap between prefixes is kept', a: 'ip saddr { 10.0.0.0/24, 10.0.2.0/24 } notrack', b: 'ip saddr 10.0.0.0-10.0.2.255 notrack' },
  { name: 'another port', a: 'tcp dport { 80, 443 } notrack', b: 'tcp dport { 80, 444 } notrack' },
  { name: 'source vs destination', a: 'ip saddr 10.0.0.0/8 notrack', b: 'ip daddr 10.0.0.0/8 notrack' },
];
for (const c of different) {
  test(`canonicalNftLine keeps a real difference: ${c.name}`, () => assert.notEqual(canonicalNftLine(c.a), canonicalNftLine(c.b)));
}

test('canonicalNftLine: lines without sets, or sets it cannot read, are left as they are', () => {
  for (const line of [
    'type filter hook prerouting priority raw; policy accept;',
    'iifname "lo" notrack comment "loopback"',
    'ip saddr @named notrack',
    'tcp dport { http } notrack',
  ]) {
    assert.equal(canonicalNftLine(line), line);
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredNotrackRule } from '../../src/policy/types.js';
import type { IpFamily } from '../../src/kernel/notrack/packet-matches.js';
import { describeIptablesRule, renderIptablesChains } from '../../src/kernel/notrack/render-iptables.js';

const CT = '-j CT --notrack';
const p = (from: number, to = from) => ({ from, to });

interface Case {
  name: string;
  rule: DesiredNotrackRule;
  family?: IpFamily;
  pre: string[];
  out: string[];
}

const cases: Case[] = [
  {
    name: 'loopback, both directions: one line per hook, not two',
    rule: { name: 'lo', interface: 'lo', direction: 'both' },
    pre: [`-A CTOP-NOTRACK-PRE -i lo -m comment --comment lo ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -o lo -m comment --comment lo ${CT}`],
  },
  {
    name: 'inbound ports: PREROUTING --dports, OUTPUT --sports, ranges with a colon',
    rule: { name: 'web', protocol: 'tcp', ports: [p(443), p(80), p(8000, 8100)], direction: 'inbound' },
    pre: [`-A CTOP-NOTRACK-PRE -p tcp -m multiport --dports 80,443,8000:8100 -m comment --comment web ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -p tcp -m multiport --sports 80,443,8000:8100 -m comment --comment web ${CT}`],
  },
  {
    name: 'outbound ports: OUTPUT --dports, PREROUTING --sports',
    rule: { name: 'dns', protocol: 'udp', ports: [p(53)], direction: 'outbound' },
    pre: [`-A CTOP-NOTRACK-PRE -p udp -m multiport --sports 53 -m comment --comment dns ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -p udp -m multiport --dports 53 -m comment --comment dns ${CT}`],
  },
  {
    name: 'both directions with ports: four lines',
    rule: { name: 'redis', protocol: 'tcp', ports: [p(6379)], direction: 'both' },
    pre: [
      `-A CTOP-NOTRACK-PRE -p tcp -m multiport --dports 6379 -m comment --comment redis ${CT}`,
      `-A CTOP-NOTRACK-PRE -p tcp -m multiport --sports 6379 -m comment --comment redis ${CT}`,
    ],
    out: [
      `-A CTOP-NOTRACK-OUT -p tcp -m multiport --sports 6379 -m comment --comment redis ${CT}`,
      `-A CTOP-NOTRACK-OUT -p tcp -m multiport --dports 6379 -m comment --comment redis ${CT}`,
    ],
  },
  {
    name: 'sources and destinations swap for replies; bare address gets /32',
    rule: { name: 'db', sources: ['10.0.0.0/8'], destinations: ['10.1.2.3'], protocol: 'tcp', direction: 'inbound' },
    pre: [`-A CTOP-NOTRACK-PRE -s 10.0.0.0/8 -d 10.1.2.3/32 -p tcp -m comment --comment db ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -s 10.1.2.3/32 -d 10.0.0.0/8 -p tcp -m comment --comment db ${CT}`],
  },
  {
    name: 'several CIDRs expand to one line each, as iptables-save shows them',
    rule: { name: 'nets', sources: ['10.0.0.0/8', '192.168.0.0/16'], direction: 'inbound' },
    pre: [`-A CTOP-NOTRACK-PRE -s 10.0.0.0/8 -m comment --comment nets ${CT}`, `-A CTOP-NOTRACK-PRE -s 192.168.0.0/16 -m comment --comment nets ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -d 10.0.0.0/8 -m comment --comment nets ${CT}`, `-A CTOP-NOTRACK-OUT -d 192.168.0.0/16 -m comment --comment nets ${CT}`],
  },
  {
    name: 'mixed CIDRs: only the IPv4 ones go to iptables',
    rule: { name: 'mix', sources: ['10.0.0.0/8', 'fd00::/8'], direction: 'inbound' },
    pre: [`-A CTOP-NOTRACK-PRE -s 10.0.0.0/8 -m comment --comment mix ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -d 10.0.0.0/8 -m comment --comment mix ${CT}`],
  },
  {
    name: 'mixed CIDRs: only the IPv6 ones go to ip6tables',
    rule: { name: 'mix', sources: ['10.0.0.0/8', 'fd00::/8'], direction: 'inbound' },
    family: 'ipv6',
    pre: [`-A CTOP-NOTRACK-PRE -s fd00::/8 -m comment --comment mix ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -d fd00::/8 -m comment --comment mix ${CT}`],
  },
  {
    name: 'IPv6-only rule renders nothing for iptables',
    rule: { name: 'v6', destinations: ['fd00::1/128'], direction: 'outbound' },
    pre: [],
    out: [],
  },
  {
    name: 'no address: the same lines for ip6tables',
    rule: { name: 'lo', interface: 'lo', direction: 'inbound' },
    family: 'ipv6',
    pre: [`-A CTOP-NOTRACK-PRE -i lo -m comment --comment lo ${CT}`],
    out: [`-A CTOP-NOTRACK-OUT -o lo -m comment --comment lo ${CT}`],
  },
  {
    name: 'more than 15 multiport slots split into two rules (a range takes two)',
    rule: { name: 'many', protocol: 'tcp', ports: [...Array.from({ length: 14 }, (_, i) => p(1000 + i)), p(2000, 2010)], direction: 'inbound' },
    pre: [
      `-A CTOP-NOTRACK-PRE -p tcp -m multiport --dports ${Array.from({ length: 14 }, (_, i) => 1000 + i).join(',')} -m comment --comment many ${CT}`,
      `-A CTOP-NOTRACK-PRE -p tcp -m multiport --dports 2000:2010 -m comment --comment many ${CT}`,
    ],
    out: [
      `-A CTOP-NOTRACK-OUT -p tcp -m multiport --sports ${Array.from({ length: 14 }, (_, i) => 1000 + i).join(',')} -m comment --comment many ${CT}`,
      `-A CTOP-NOTRACK-OUT -p tcp -m multiport --sports 2000:2010 -m comment --comment many ${CT}`,
    ],
  },
];

/** Every chain we render starts with our marker rule. */
function marked(chain: string, lines: string[]): string[] {
  return lines.length > 0 ? [`-A ${chain} -m comment --comment conntrack-operator`, ...lines] : [];
}

for (const c of cases) {
  test(`renderIptablesChains: ${c.name}`, () => {
    const chains = renderIptablesChains({ rules: [c.rule], acceptUntracked: false }, c.family ?? 'ipv4');
    assert.deepEqual(chains.get('CTOP-NOTRACK-PRE') ?? [], marked('CTOP-NOTRACK-PRE', c.pre));
    assert.deepEqual(chains.get('CTOP-NOTRACK-OUT') ?? [], marked('CTOP-NOTRACK-OUT', c.out));
    assert.equal(chains.has('CTOP-ACCEPT-UNTRACKED'), false);
  });
}

test('renderIptablesChains: acceptUntracked accepts exactly what our PREROUTING rules untracked, never a bare source port', () => {
  const rules: DesiredNotrackRule[] = [
    { name: 'loopback', interface: 'lo', direction: 'both' },
    { name: 'web-out', protocol: 'tcp', ports: [p(80)], direction: 'outbound' },
    { name: 'dns-out', protocol: 'udp', ports: [p(53)], destinations: ['10.96.0.10/32'], direction: 'outbound' },
    { name: 'web-in', protocol: 'tcp', ports: [p(443)], direction: 'inbound' },
  ];
  const chains = renderIptablesChains({ rules, acceptUntracked: true }, 'ipv4');
  assert.deepEqual(
    chains.get('CTOP-ACCEPT-UNTRACKED'),
    marked('CTOP-ACCEPT-UNTRACKED', [
      '-A CTOP-ACCEPT-UNTRACKED -i lo -m conntrack --ctstate UNTRACKED -m comment --comment loopback -j ACCEPT',
      '-A CTOP-ACCEPT-UNTRACKED -s 10.96.0.10/32 -p udp -m multiport --sports 53 -m conntrack --ctstate UNTRACKED -m comment --comment dns-out -j ACCEPT',
      '-A CTOP-ACCEPT-UNTRACKED -p tcp -m multiport --dports 443 -m conntrack --ctstate UNTRACKED -m comment --comment web-in -j ACCEPT',
    ]),
  );
  // web-out's replies are untracked (--sports 80) but not accepted: that would open every local port to anyone sending from port 80.
  assert.ok(chains.get('CTOP-NOTRACK-PRE')!.some((l) => l.includes('--sports 80')));
  assert.ok(!chains.get('CTOP-ACCEPT-UNTRACKED')!.some((l) => l.includes('--sports 80')));
  assert.equal(renderIptablesChains({ rules, acceptUntracked: false }, 'ipv4').has('CTOP-ACCEPT-UNTRACKED'), false);
});

test('renderIptablesChains: ports without a protocol is an error naming the rule', () => {
  assert.throws(
    () => renderIptablesChains({ rules: [{ name: 'bad', ports: [p(80)], direction: 'inbound' }], acceptUntracked: false }, 'ipv4'),
    /notrack rule bad: protocol is required when ports are given/,
  );
});

const descriptions: [DesiredNotrackRule, string][] = [
  [{ name: 'lo', interface: 'lo', direction: 'both' }, 'raw PREROUTING -i lo, raw OUTPUT -o lo'],
  [
    { name: 'web', protocol: 'tcp', ports: [p(80), p(443), p(8000, 8100)], direction: 'inbound' },
    'raw PREROUTING -p tcp -m multiport --dports 80,443,8000:8100, raw OUTPUT -p tcp -m multiport --sports 80,443,8000:8100',
  ],
  [
    { name: 'up', destinations: ['10.0.0.0/8', '10.1.0.0/16'], protocol: 'tcp', ports: [p(5432)], direction: 'outbound' },
    'raw OUTPUT -d 10.0.0.0/8,10.1.0.0/16 -p tcp -m multiport --dports 5432, raw PREROUTING -s 10.0.0.0/8,10.1.0.0/16 -p tcp -m multiport --sports 5432',
  ],
];

for (const [rule, text] of descriptions) {
  test(`describeIptablesRule: ${rule.name}`, () => assert.equal(describeIptablesRule(rule), text));
}

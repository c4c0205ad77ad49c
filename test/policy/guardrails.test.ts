import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notrackRefusal, tableMemoryRefusal, timeoutRefusal, type ClusterCidrs } from '../../src/policy/guardrails.js';
import type { DesiredNotrackRule } from '../../src/policy/types.js';

const GiB = 1024 ** 3;

describe('timeout safe floors', () => {
  const floors: Array<[string, number]> = [
    ['nf_conntrack_tcp_timeout_established', 300],
    ['nf_conntrack_tcp_timeout_syn_sent', 5],
    ['nf_conntrack_tcp_timeout_syn_recv', 5],
    ['nf_conntrack_tcp_timeout_fin_wait', 10],
    ['nf_conntrack_tcp_timeout_close_wait', 10],
    ['nf_conntrack_tcp_timeout_last_ack', 10],
    ['nf_conntrack_tcp_timeout_time_wait', 10],
    ['nf_conntrack_tcp_timeout_max_retrans', 30],
    ['nf_conntrack_tcp_timeout_unacknowledged', 30],
    ['nf_conntrack_udp_timeout', 5],
    ['nf_conntrack_udp_timeout_stream', 30],
    ['nf_conntrack_icmp_timeout', 5],
    ['nf_conntrack_icmpv6_timeout', 5],
    ['nf_conntrack_generic_timeout', 60],
  ];
  for (const [key, floor] of floors) {
    it(`${key}: ${floor - 1}s refused, ${floor}s allowed, ${floor - 1}s allowed with the opt-in`, () => {
      const refusal = timeoutRefusal(key, floor - 1, false);
      assert.ok(refusal?.includes(`below the safe floor of ${floor}s`), refusal);
      assert.ok(refusal?.includes('allowBelowSafeFloor: true'), refusal);
      assert.equal(timeoutRefusal(key, floor, false), undefined);
      assert.equal(timeoutRefusal(key, floor - 1, true), undefined);
    });
  }
  it('tcp close has no floor (its kernel default is already 10s)', () => {
    assert.equal(timeoutRefusal('nf_conntrack_tcp_timeout_close', 1, false), undefined);
  });
});

describe('NOTRACK rule guardrails', () => {
  const none: ClusterCidrs = {};
  const k8s: ClusterCidrs = { serviceCidrs: ['10.96.0.0/12', 'fd00:10:96::/112'], podCidrs: ['10.244.0.0/16', 'fd00:10:244::/56'] };
  const unknown: ClusterCidrs = { serviceCidrs: null, podCidrs: null };
  const rule = (extra: Partial<DesiredNotrackRule>): DesiredNotrackRule => ({ name: 'r', direction: 'both', ...extra });
  const cases: Array<{ name: string; rule: DesiredNotrackRule; allow?: boolean; cluster: ClusterCidrs; refused?: string }> = [
    { name: 'a rule matching all traffic', rule: rule({}), cluster: none, refused: 'matches all traffic' },
    { name: 'a rule matching all traffic, allowed', rule: rule({}), allow: true, cluster: none },
    { name: 'a protocol alone matches all of it', rule: rule({ protocol: 'tcp' }), cluster: none, refused: 'matches all tcp traffic' },
    { name: 'a /0 source restricts nothing', rule: rule({ sources: ['0.0.0.0/0'] }), cluster: none, refused: 'matches all traffic' },
    { name: 'interface "+" is every interface to iptables', rule: rule({ interface: '+' }), cluster: none, refused: 'matches all traffic' },
    { name: 'interface "+" with a protocol', rule: rule({ interface: '+', protocol: 'udp' }), cluster: none, refused: 'matches all udp traffic' },
    { name: 'a wildcard prefix ("veth+") is a restriction', rule: rule({ interface: 'veth+' }), cluster: none },
    {
      name: 'ports 1-65535 are every port',
      rule: rule({ protocol: 'tcp', ports: [{ from: 1, to: 65535 }] }),
      cluster: none,
      refused: 'matches all tcp traffic',
    },
    {
      name: 'port ranges that together cover every port',
      rule: rule({
        protocol: 'tcp',
        ports: [
          { from: 30000, to: 65535 },
          { from: 1, to: 1024 },
          { from: 1000, to: 30000 },
        ],
      }),
      cluster: none,
      refused: 'matches all tcp traffic',
    },
    {
      name: 'port ranges with a gap are a restriction',
      rule: rule({
        protocol: 'tcp',
        ports: [
          { from: 1, to: 1024 },
          { from: 1026, to: 65535 },
        ],
      }),
      cluster: none,
    },
    { name: 'two /1 sources are all of IPv4', rule: rule({ sources: ['0.0.0.0/1', '128.0.0.0/1'] }), cluster: none, refused: 'matches all traffic' },
    {
      name: 'a /0 among other sources is still all of IPv4',
      rule: rule({ sources: ['0.0.0.0/0', 'fd00::/8'] }),
      cluster: none,
      refused: 'matches all traffic',
    },
    { name: 'two /1 IPv6 destinations are all of IPv6', rule: rule({ destinations: ['::/1', '8000::/1'] }), cluster: none, refused: 'matches all traffic' },
    { name: 'three quarters of IPv4 is a restriction', rule: rule({ sources: ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2'] }), cluster: none },
    { name: 'a real source prefix is a restriction', rule: rule({ protocol: 'udp', sources: ['192.0.2.0/24'] }), cluster: none },
    { name: 'loopback on a plain host', rule: rule({ interface: 'lo' }), cluster: none },
    // lo carries the node's own connections to its NodePorts and hostPorts: no exception (the NAT check then judges what is left).
    { name: 'loopback without destinations on a Kubernetes node', rule: rule({ interface: 'lo' }), cluster: k8s, refused: 'names no destinations' },
    { name: 'loopback to 127.0.0.1 on a Kubernetes node', rule: rule({ interface: 'lo', destinations: ['127.0.0.1/32'] }), cluster: k8s },
    { name: 'a port rule on a plain host', rule: rule({ protocol: 'tcp', ports: [{ from: 80, to: 80 }] }), cluster: none },
    {
      name: 'a port rule without destinations on a Kubernetes node',
      rule: rule({ protocol: 'tcp', ports: [{ from: 80, to: 80 }], direction: 'inbound' }),
      cluster: k8s,
      refused: 'names no destinations',
    },
    {
      name: 'an interface rule (not lo) without destinations on a Kubernetes node',
      rule: rule({ interface: 'eth1' }),
      cluster: k8s,
      refused: 'names no destinations',
    },
    {
      name: 'sources alone do not keep Service traffic out',
      rule: rule({ protocol: 'tcp', ports: [{ from: 443, to: 443 }], sources: ['203.0.113.0/24'] }),
      cluster: k8s,
      refused: 'names no destinations',
    },
    {
      name: 'a port rule to the node address on a Kubernetes node',
      rule: rule({ protocol: 'tcp', ports: [{ from: 80, to: 80 }], destinations: ['192.0.2.10/32'] }),
      cluster: k8s,
    },
    {
      name: 'destinations overlapping the Service CIDR (v4)',
      rule: rule({ destinations: ['10.96.0.10/32'] }),
      cluster: k8s,
      refused: 'destinations 10.96.0.10/32 overlaps the Service CIDR 10.96.0.0/12',
    },
    {
      name: 'destinations containing the Pod CIDR (v4)',
      rule: rule({ destinations: ['10.0.0.0/8'] }),
      cluster: k8s,
      refused: 'overlaps the Service CIDR 10.96.0.0/12',
    },
    {
      name: 'sources overlapping the Pod CIDR (v4): pod egress is SNATed',
      rule: rule({ sources: ['10.244.3.0/24'], destinations: ['192.0.2.0/24'] }),
      cluster: k8s,
      refused: 'sources 10.244.3.0/24 overlaps the Pod CIDR 10.244.0.0/16',
    },
    {
      name: 'destinations overlapping the Service CIDR (v6)',
      rule: rule({ destinations: ['fd00:10:96::a/128'] }),
      cluster: k8s,
      refused: 'overlaps the Service CIDR fd00:10:96::/112',
    },
    {
      name: 'sources overlapping the Pod CIDR (v6)',
      rule: rule({ sources: ['fd00:10:244:1::/64'], destinations: ['2001:db8::/64'] }),
      cluster: k8s,
      refused: 'overlaps the Pod CIDR fd00:10:244::/56',
    },
    { name: 'v6 destinations next to the Service CIDR', rule: rule({ destinations: ['fd00:10:97::/112'] }), cluster: k8s },
    { name: 'overlap allowed with the opt-in', rule: rule({ destinations: ['10.96.0.0/12'] }), allow: true, cluster: k8s },
    // A Kubernetes node whose ranges are not known: only rules for node-local destinations pass.
    {
      name: 'ranges not known: interface lo alone is not node-local (IPVS binds ClusterIPs locally)',
      rule: rule({ interface: 'lo' }),
      cluster: unknown,
      refused: 'needs the Service and Pod ranges, and this node does not know its Service and Pod ranges',
    },
    { name: 'ranges not known: lo with destinations in 127/8', rule: rule({ interface: 'lo', destinations: ['127.0.0.0/8'] }), cluster: unknown },
    {
      name: 'ranges not known: destinations all node-local (node-local DNS, 127/8, ::1)',
      rule: rule({ protocol: 'udp', ports: [{ from: 53, to: 53 }], destinations: ['169.254.20.10/32', '127.0.0.0/8', '::1/128', 'fe80::/64'] }),
      cluster: unknown,
    },
    {
      name: 'ranges not known: a destination off the node among node-local ones',
      rule: rule({ destinations: ['169.254.20.10/32', '192.0.2.10/32'] }),
      cluster: unknown,
      refused: 'needs the Service and Pod ranges, and this node does not know its Service and Pod ranges',
    },
    {
      name: 'ranges not known: a wider range than link-local is not node-local',
      rule: rule({ destinations: ['169.254.0.0/15'] }),
      cluster: unknown,
      refused: 'does not know its Service and Pod ranges',
    },
    {
      name: 'only the Pod ranges not known: a rule to the node address',
      rule: rule({ protocol: 'tcp', ports: [{ from: 80, to: 80 }], destinations: ['192.0.2.10/32'] }),
      cluster: { serviceCidrs: k8s.serviceCidrs!, podCidrs: null },
      refused: 'does not know its Pod ranges (see the ClusterCidrsKnown condition)',
    },
    {
      name: 'only the Service ranges not known: a known Pod overlap is named first',
      rule: rule({ sources: ['10.244.3.0/24'], destinations: ['192.0.2.0/24'] }),
      cluster: { serviceCidrs: null, podCidrs: k8s.podCidrs! },
      refused: 'overlaps the Pod CIDR 10.244.0.0/16',
    },
    { name: 'ranges not known: allowed with the opt-in', rule: rule({ destinations: ['192.0.2.10/32'] }), allow: true, cluster: unknown },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.refused ? 'refused' : 'allowed'}`, () => {
      const refusal = notrackRefusal(c.rule, c.allow ?? false, c.cluster);
      if (!c.refused) return assert.equal(refusal, undefined);
      assert.ok(refusal?.includes(c.refused), refusal);
      assert.ok(refusal?.includes('allowBroadMatch: true'), refusal);
    });
  }
});

describe('explicit table memory budget (5% of RAM)', () => {
  const cases: Array<{ name: string; max: number; buckets: number; mem?: number; slab: number; refused?: string }> = [
    { name: '1M entries at 320 B on 16 GiB (324 MiB of 819)', max: 1048576, buckets: 262144, mem: 16 * GiB, slab: 320 },
    {
      name: '1M entries at 320 B on 4 GiB',
      max: 1048576,
      buckets: 262144,
      mem: 4 * GiB,
      slab: 320,
      refused: 'table would use 322.0 MiB (max 1048576 x 320 B + buckets 262144 x 8 B), more than 5% of node RAM (204.8 of 4096.0 MiB)',
    },
    { name: 'just at the budget', max: 200000, buckets: 0, mem: 200000 * 256 * 20, slab: 256 },
    { name: 'one entry over the budget', max: 200001, buckets: 0, mem: 200000 * 256 * 20, slab: 256, refused: 'more than 5% of node RAM' },
    { name: 'buckets count too', max: 200000, buckets: 1024, mem: 200000 * 256 * 20, slab: 256, refused: 'buckets 1024 x 8 B' },
    { name: 'unknown RAM: not checked', max: 67108864, buckets: 67108864, slab: 320 },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.refused ? 'refused' : 'allowed'}`, () => {
      const refusal = tableMemoryRefusal(c.max, c.buckets, { slabObjectSize: c.slab, memTotalBytes: c.mem });
      if (!c.refused) return assert.equal(refusal, undefined);
      assert.ok(refusal?.includes(c.refused), refusal);
    });
  }
});

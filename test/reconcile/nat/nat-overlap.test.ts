// Which NOTRACK rules overlap which NAT rules, on each real capture
// (test/fixtures/kube-proxy-nat/, node address 192.168.77.10). Every expected
// list was worked out by hand from the capture; the reasons are in the comments.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseIptablesNat } from '../../../src/kernel/nat/parse-iptables-nat.js';
import { parseNftNat } from '../../../src/kernel/nat/parse-nft-nat.js';
import type { NatTable } from '../../../src/kernel/nat/nat-rules.js';
import { packetMatches } from '../../../src/kernel/notrack/packet-matches.js';
import type { DesiredNotrackRule } from '../../../src/policy/types.js';
import { analyseNat, overlapsOf, type NatSite } from '../../../src/reconcile/nat/nat-overlap.js';
import { describeNatOverlap, overlapMessage } from '../../../src/reconcile/nat/describe-overlap.js';

const text = (f: string) => readFileSync(new URL(`../../fixtures/kube-proxy-nat/${f}`, import.meta.url), 'utf8');
const iptables = (f: string): NatTable[] => [parseIptablesNat(text(f), 'ipv4', 'iptables-nft').table!];
const nft = (f: string): NatTable[] => parseNftNat([JSON.parse(text(f))]);
/** The capture node's addresses (node.fib_trie, node.ipv6_route). */
const LOCAL = { cidrs: ['127.0.0.0/8', '127.0.0.1/32', '192.168.77.10/32', '::1/128', 'fd00:77::10/128'] };
const NODE = '192.168.77.10/32';
const p = (from: number, to = from) => ({ from, to });

const RULES: Record<string, DesiredNotrackRule> = {
  lo: { name: 'lo', interface: 'lo', direction: 'both' },
  'node-web': { name: 'node-web', protocol: 'tcp', ports: [p(80), p(443)], destinations: [NODE], direction: 'inbound' },
  'redis-local': { name: 'redis-local', protocol: 'tcp', ports: [p(6379)], destinations: ['127.0.0.1/32'], direction: 'both' },
  'nodeport-30080': { name: 'nodeport-30080', protocol: 'tcp', ports: [p(30080)], direction: 'inbound' },
  'dns-egress': { name: 'dns-egress', protocol: 'udp', ports: [p(53)], direction: 'outbound' },
  'hostport-8081': { name: 'hostport-8081', protocol: 'tcp', ports: [p(8081)], destinations: [NODE], direction: 'inbound' },
  'high-ports': { name: 'high-ports', protocol: 'tcp', ports: [p(40000, 40100)], destinations: [NODE], direction: 'inbound' },
  'eth0-9000': { name: 'eth0-9000', interface: 'eth0', protocol: 'tcp', ports: [p(9000)], direction: 'inbound' },
  'udp-node': { name: 'udp-node', protocol: 'udp', destinations: [NODE], direction: 'inbound' },
};

/** The chains of the NAT rules each NOTRACK rule overlaps (all of them), sorted. */
function overlapping(sites: NatSite[], names: string[]): Record<string, string[]> {
  const rules = names.map((n) => ({ name: n, matches: packetMatches(RULES[n]!) }));
  const found = overlapsOf(rules, sites, LOCAL, Infinity);
  return Object.fromEntries(names.map((n) => [n, (found.get(n)?.first ?? []).map((o) => o.rule.chain).sort()]));
}

const NONE = ['node-web', 'redis-local', 'eth0-9000'];

describe('kube-proxy iptables mode (iptables-mode.nat.rules)', () => {
  const sites = analyseNat(iptables('iptables-mode.nat.rules'));
  it('overlaps', () => {
    assert.deepEqual(overlapping(sites, [...Object.keys(RULES)]), {
      // The node talking to itself: localhost NodePorts 30443 and 30080 (-d 127.0.0.0/8, and the
      // node address through addrtype LOCAL) reach four endpoints, and KUBE-EXT marks them for
      // MASQUERADE. ClusterIPs and external IPs are not the node's: not over lo.
      lo: ['KUBE-POSTROUTING', 'KUBE-SEP-26CM2AZMQ2QFWBIT', 'KUBE-SEP-342BEWF2AUCKL2WB', 'KUBE-SEP-BIW3V4IEKGAZJUFH', 'KUBE-SEP-KDNGRYKCFL5OBXKY'],
      // No Service listens on 80/443 of the node address; the node's own replies leave from 80/443,
      // not from the client ports a Service flow starts from.
      'node-web': [],
      'redis-local': [],
      // NodePort 30080 to web-nodeport's two endpoints, marked for MASQUERADE.
      'nodeport-30080': ['KUBE-POSTROUTING', 'KUBE-SEP-26CM2AZMQ2QFWBIT', 'KUBE-SEP-342BEWF2AUCKL2WB'],
      // The node's DNS queries to the dns ClusterIP (UDP only).
      'dns-egress': ['KUBE-POSTROUTING', 'KUBE-SEP-XYDM3WLRYTMSGDPU'],
      'hostport-8081': [],
      // Ports 40000-40100 are client ports: the node's own connections to every TCP Service leave
      // from such ports (its reply match untracks them), and MASQUERADE'd replies come back to them.
      'high-ports': [
        'KUBE-POSTROUTING',
        'KUBE-SEP-26CM2AZMQ2QFWBIT',
        'KUBE-SEP-342BEWF2AUCKL2WB',
        'KUBE-SEP-7U6MWNJWR3SADOJA',
        'KUBE-SEP-A4JCWMD6AMIS43DD',
        'KUBE-SEP-BIW3V4IEKGAZJUFH',
        'KUBE-SEP-EXHXETPDRJJIMEDE',
        'KUBE-SEP-KDNGRYKCFL5OBXKY',
      ],
      'eth0-9000': [],
      // All UDP sent from the node's address: its DNS queries to the ClusterIP too.
      'udp-node': ['KUBE-POSTROUTING', 'KUBE-SEP-XYDM3WLRYTMSGDPU'],
    });
  });

  it('says which NAT rule, whose, reached how', () => {
    const found = overlapsOf([{ name: 'nodeport-30080', matches: packetMatches(RULES['nodeport-30080']!) }], sites, LOCAL).get('nodeport-30080')!;
    assert.equal(found.count, 3);
    assert.equal(
      describeNatOverlap(found.first[0]!),
      'DNAT in KUBE-SEP-342BEWF2AUCKL2WB: -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8080 (kube-proxy, "default/web-nodeport:http"), reached by KUBE-NODEPORTS: -d 127.0.0.0/8 -p tcp -m tcp --dport 30080 -j KUBE-EXT-IWCJJAMV7TQADP7P',
    );
    const masq = found.first.find((o) => o.nat === 'masquerade')!;
    assert.match(
      describeNatOverlap(masq),
      /^MASQUERADE in KUBE-POSTROUTING: -j MASQUERADE --random-fully \(kube-proxy, .*\) for packets marked by KUBE-MARK-MASQ: -j MARK --set-xmark 0x4000\/0x4000/,
    );
    assert.equal(
      overlapMessage('nodeport-30080', found),
      'NOTRACK rule nodeport-30080 withheld: it would untrack packets that DNAT in KUBE-SEP-342BEWF2AUCKL2WB: -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8080 (kube-proxy, "default/web-nodeport:http"), reached by KUBE-NODEPORTS: -d 127.0.0.0/8 -p tcp -m tcp --dport 30080 -j KUBE-EXT-IWCJJAMV7TQADP7P rewrites (and 2 more NAT rules); an untracked packet skips the nat table',
    );
  });
});

describe('CNI portmap hostPort (portmap.nat.rules)', () => {
  const sites = analyseNat(iptables('portmap.nat.rules'));
  it('overlaps', () => {
    const hostPort = ['CNI-DN-615ce45688f2b9ffa5eae', 'CNI-HOSTPORT-MASQ'];
    assert.deepEqual(overlapping(sites, ['lo', 'hostport-8081', 'high-ports', 'nodeport-30080', 'dns-egress', 'udp-node', ...NONE]), {
      // hostPort 8081 on every local address, the node's own connections over lo included.
      lo: hostPort,
      'hostport-8081': hostPort,
      // The node's connections to its hostPort leave from client ports, and the DNAT'd flows'
      // replies come back to client ports (which MASQUERADE keeps).
      'high-ports': ['CNI-DN-615ce45688f2b9ffa5eae'],
      'nodeport-30080': [],
      'dns-egress': [],
      'udp-node': [],
      'node-web': [],
      'redis-local': [],
      'eth0-9000': [],
    });
  });
  it('the owner is the portmap plugin', () => {
    const found = overlapsOf([{ name: 'lo', matches: packetMatches(RULES.lo!) }], sites, LOCAL).get('lo')!;
    assert.deepEqual(
      found.first.map((o) => o.owner),
      ['CNI portmap', 'CNI portmap'],
    );
  });
});

describe('kube-proxy nftables mode (nftables-mode.ruleset.json)', () => {
  const sites = analyseNat(nft('nftables-mode.ruleset.json'));
  const ep = {
    dnsUdp: 'endpoint-4K6OJDPK-default/dns/udp/dns__10.244.0.10/53',
    dnsTcp: 'endpoint-DJDQFV4V-default/dns/tcp/dns-tcp__10.244.0.10/53',
    web5: 'endpoint-4VJT4MCW-default/web/tcp/http__10.244.0.5/8080',
    web7: 'endpoint-T3YFOJIQ-default/web/tcp/http__10.244.1.7/8080',
    lb5: 'endpoint-WZGJQ3R7-default/web-lb/tcp/https__10.244.0.5/8443',
    lb7: 'endpoint-G3MRHPFF-default/web-lb/tcp/https__10.244.1.7/8443',
    np5: 'endpoint-YOJIEOU7-default/web-nodeport/tcp/http__10.244.0.5/8080',
    np7: 'endpoint-OEZYQRGJ-default/web-nodeport/tcp/http__10.244.1.7/8080',
  };
  it('overlaps', () => {
    assert.deepEqual(overlapping(sites, [...Object.keys(RULES)]), {
      // No localhost NodePorts in this mode, but the node address is in @nodeport-ips: the node's
      // own connections to NodePorts 30080 and 30443 go over lo. kube-proxy's ip6 table marks no
      // packet (its maps are empty), so its masquerade stays out of it.
      lo: [ep.lb7, ep.np7, ep.lb5, ep.np5, 'masquerading'].sort(),
      'node-web': [],
      'redis-local': [],
      'nodeport-30080': [ep.np7, ep.np5, 'masquerading'].sort(),
      'dns-egress': [ep.dnsUdp, 'masquerading'].sort(),
      'hostport-8081': [],
      'high-ports': [ep.dnsTcp, ep.lb7, ep.np7, ep.web5, ep.web7, ep.lb5, ep.np5, 'masquerading'].sort(),
      'eth0-9000': [],
      'udp-node': [ep.dnsUdp, 'masquerading'].sort(),
    });
  });
  it('names the verdict map element that leads there', () => {
    const found = overlapsOf([{ name: 'nodeport-30080', matches: packetMatches(RULES['nodeport-30080']!) }], sites, LOCAL).get('nodeport-30080')!;
    assert.match(
      describeNatOverlap(found.first[0]!),
      /^DNAT in endpoint-\S+: meta l4proto tcp dnat to 10\.244\.\d\.\d:8080 \(kube-proxy\), reached by services: ip daddr @nodeport-ips meta l4proto \. th dport vmap @service-nodeports \[tcp \. 30080 : goto external-GCGJYZ2R-default\/web-nodeport\/tcp\/http\]$/,
    );
  });
});

describe('the iptables-mode table as nft shows it (iptables-mode.nat.nft.json): unreadable parts may match anything', () => {
  const sites = analyseNat(nft('iptables-mode.nat.nft.json'));
  const tcpEndpoints = [
    'KUBE-SEP-26CM2AZMQ2QFWBIT',
    'KUBE-SEP-342BEWF2AUCKL2WB',
    'KUBE-SEP-7U6MWNJWR3SADOJA',
    'KUBE-SEP-A4JCWMD6AMIS43DD',
    'KUBE-SEP-BIW3V4IEKGAZJUFH',
    'KUBE-SEP-EXHXETPDRJJIMEDE',
    'KUBE-SEP-KDNGRYKCFL5OBXKY',
  ];
  it('overlaps', () => {
    assert.deepEqual(overlapping(sites, ['lo', 'node-web', 'dns-egress']), {
      // The DNAT targets are xt targets here: each may send its flows to this node, so each
      // flow's reply may come from any local address and port, over lo.
      lo: ['KUBE-POSTROUTING', 'KUBE-SEP-XYDM3WLRYTMSGDPU', ...tcpEndpoints].sort(),
      // ...and from port 80 or 443 of the node address.
      'node-web': ['KUBE-POSTROUTING', ...tcpEndpoints].sort(),
      'dns-egress': ['KUBE-POSTROUTING', 'KUBE-SEP-XYDM3WLRYTMSGDPU'],
    });
  });
});

describe('Docker-shaped rules: owner, forwarded traffic, what lo never carries', () => {
  const save = [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ':DOCKER - [0:0]',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER',
    '-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER',
    '-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE',
    '-A DOCKER -i docker0 -j RETURN',
    '-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.2:80',
    'COMMIT',
  ].join('\n');
  const sites = analyseNat([parseIptablesNat(save, 'ipv4', 'iptables-legacy').table!]);
  const rules: DesiredNotrackRule[] = [
    RULES.lo!,
    RULES['redis-local']!,
    { name: 'containers', interface: 'docker0', sources: ['172.17.0.0/16'], direction: 'inbound' },
    { name: 'published', protocol: 'tcp', ports: [p(8080)], destinations: [NODE], direction: 'inbound' },
  ];
  const found = overlapsOf(
    rules.map((r) => ({ name: r.name, matches: packetMatches(r) })),
    sites,
    LOCAL,
    Infinity,
  );
  const chains = (name: string) => (found.get(name)?.first ?? []).map((o) => `${o.rule.chain} ${o.owner}`).sort();
  it('the published port over lo; not the MASQUERADE (what lo carries stays on the node)', () => assert.deepEqual(chains('lo'), ['DOCKER Docker']));
  it('127.0.0.1 is neither published nor masqueraded', () => assert.deepEqual(chains('redis-local'), []));
  it("what containers send: masqueraded on its way out, and the published port's replies", () =>
    assert.deepEqual(chains('containers'), ['DOCKER Docker', 'POSTROUTING unknown']));
  it('the published port itself', () => assert.deepEqual(chains('published'), ['DOCKER Docker']));
});

describe('mark guards', () => {
  const table = (lines: string[]) => [
    parseIptablesNat(['*nat', ':POSTROUTING ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':MARKER - [0:0]', ...lines, 'COMMIT'].join('\n'), 'ipv4', 'iptables-legacy')
      .table!,
  ];
  const egress: DesiredNotrackRule = { name: 'egress', interface: 'eth1', direction: 'outbound' };
  const hits = (tables: NatTable[]) => overlapsOf([{ name: 'egress', matches: packetMatches(egress) }], analyseNat(tables), LOCAL).get('egress')?.count ?? 0;
  it('a mark no nat rule sets may be set anywhere: the guarded MASQUERADE may match', () => {
    assert.equal(hits(table(['-A POSTROUTING -m mark --mark 0x100/0x100 -j MASQUERADE'])), 1);
  });
  it('a mark only an unreached nat rule sets is never set: nothing reaches the MASQUERADE', () => {
    assert.equal(hits(table(['-A POSTROUTING -m mark --mark 0x100/0x100 -j MASQUERADE', '-A MARKER -j MARK --or-mark 0x100'])), 0);
  });
  it('reached: the setter decides (here only port 5000 is marked)', () => {
    const t = table([
      '-A OUTPUT -p udp -m udp --dport 5000 -j MARKER',
      '-A POSTROUTING -m mark --mark 0x100/0x100 -j MASQUERADE',
      '-A MARKER -j MARK --or-mark 0x100',
    ]);
    assert.equal(hits(t), 1);
    const web: DesiredNotrackRule = { name: 'egress', interface: 'eth1', protocol: 'tcp', ports: [p(443)], direction: 'outbound' };
    assert.equal(overlapsOf([{ name: 'egress', matches: packetMatches(web) }], analyseNat(t), LOCAL).size, 0);
  });
  it('an unconditional RETURN ends the chain', () => {
    assert.equal(hits(table(['-A POSTROUTING -j RETURN', '-A POSTROUTING -j MASQUERADE'])), 0);
  });
});

describe('without the node addresses', () => {
  it('any address may be local: lo then overlaps ClusterIP rules too', () => {
    const sites = analyseNat(iptables('iptables-mode.nat.rules'));
    const found = overlapsOf([{ name: 'lo', matches: packetMatches(RULES.lo!) }], sites, null, Infinity).get('lo')!;
    assert.ok(
      found.first.some((o) => o.rule.chain === 'KUBE-SEP-7U6MWNJWR3SADOJA'),
      'web ClusterIP endpoint',
    );
  });
});

// The iptables-save nat parser on the real captures (test/fixtures/kube-proxy-nat/).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseIptablesNat, parseNatTo, splitRuleLine } from '../../../src/kernel/nat/parse-iptables-nat.js';
import type { NatTable } from '../../../src/kernel/nat/nat-rules.js';

const fixture = (f: string) => readFileSync(new URL(`../../fixtures/kube-proxy-nat/${f}`, import.meta.url), 'utf8');

function table(file: string): NatTable {
  const t = parseIptablesNat(fixture(file), 'ipv4', 'iptables-nft').table;
  assert.ok(t);
  return t;
}

function rule(t: NatTable, chain: string, index: number) {
  const r = t.chains.get(chain)?.rules[index];
  assert.ok(r, `${chain}[${index}]`);
  return r;
}

describe('parseIptablesNat on kube-proxy iptables mode', () => {
  const t = table('iptables-mode.nat.rules');

  it('reads every chain, the four built-in ones as base chains', () => {
    assert.equal(t.chains.size, 25);
    const hooks = [...t.chains.values()].filter((c) => c.hook).map((c) => `${c.name}:${c.hook}`);
    assert.deepEqual(hooks, ['PREROUTING:prerouting', 'INPUT:input', 'OUTPUT:output', 'POSTROUTING:postrouting']);
    // 55 "-A" lines in the file (grep -c '^-A').
    assert.equal(
      [...t.chains.values()].reduce((n, c) => n + c.rules.length, 0),
      55,
    );
  });

  it('the localhost NodePort rule: destination, protocol, port; nfacct unknown; the jump', () => {
    const r = rule(t, 'KUBE-NODEPORTS', 2);
    assert.deepEqual(r.matches, [
      { kind: 'daddr', addresses: ['127.0.0.0/8'], negated: false },
      { kind: 'protocol', protocols: ['tcp'], negated: false },
      { kind: 'dport', ports: [{ from: 30080, to: 30080 }], negated: false },
      { kind: 'unknown', text: '-m nfacct --nfacct-name localhost_nps_accepted_pkts' },
    ]);
    assert.deepEqual(r.actions, [{ kind: 'jump', chain: 'KUBE-EXT-IWCJJAMV7TQADP7P' }]);
    assert.equal(r.comment, 'default/web-nodeport:http');
  });

  it('addrtype LOCAL, a negated source, the statistic match', () => {
    assert.deepEqual(rule(t, 'KUBE-SERVICES', 7).matches, [{ kind: 'local', field: 'daddr', negated: false }]);
    assert.deepEqual(rule(t, 'KUBE-SVC-IWCJJAMV7TQADP7P', 0).matches.slice(0, 2), [
      { kind: 'saddr', addresses: ['10.244.0.0/16'], negated: true },
      { kind: 'daddr', addresses: ['10.0.0.89/32'], negated: false },
    ]);
    assert.deepEqual(
      rule(t, 'KUBE-SVC-IWCJJAMV7TQADP7P', 1).matches.map((m) => m.kind),
      ['unknown', 'unknown'],
    );
  });

  it('DNAT with its translation, the mark guard, MARK and MASQUERADE', () => {
    assert.deepEqual(rule(t, 'KUBE-SEP-342BEWF2AUCKL2WB', 1).actions, [
      { kind: 'nat', nat: 'dnat', to: { addresses: ['10.244.0.5'], ports: { from: 8080, to: 8080 } } },
    ]);
    assert.deepEqual(rule(t, 'KUBE-POSTROUTING', 0), {
      text: '-m mark ! --mark 0x4000/0x4000 -j RETURN',
      matches: [{ kind: 'mark', value: 0x4000, mask: 0x4000, negated: true }],
      actions: [{ kind: 'return' }],
    });
    assert.deepEqual(rule(t, 'KUBE-MARK-MASQ', 0).actions, [{ kind: 'mark', bits: 0x4000 }]);
    assert.deepEqual(rule(t, 'KUBE-POSTROUTING', 2).actions, [{ kind: 'nat', nat: 'masquerade', to: {} }]);
  });
});

describe('parseIptablesNat on the portmap capture', () => {
  const t = table('portmap.nat.rules');
  it('hostPort chains: addrtype entry, multiport, the DNAT, the mark-guarded MASQUERADE', () => {
    assert.deepEqual(rule(t, 'OUTPUT', 0).matches, [{ kind: 'local', field: 'daddr', negated: false }]);
    assert.deepEqual(rule(t, 'CNI-HOSTPORT-DNAT', 0).matches, [
      { kind: 'protocol', protocols: ['tcp'], negated: false },
      { kind: 'dport', ports: [{ from: 8081, to: 8081 }], negated: false },
    ]);
    assert.equal(rule(t, 'CNI-HOSTPORT-DNAT', 0).comment, 'dnat name: "pods" id: "capture0"');
    assert.deepEqual(rule(t, 'CNI-DN-615ce45688f2b9ffa5eae', 2).actions, [
      { kind: 'nat', nat: 'dnat', to: { addresses: ['10.244.0.20'], ports: { from: 80, to: 80 } } },
    ]);
    assert.deepEqual(rule(t, 'CNI-HOSTPORT-MASQ', 0).matches, [{ kind: 'mark', value: 0x2000, mask: 0x2000, negated: false }]);
  });
});

describe('parseIptablesNat: what else a save may hold', () => {
  it('no *nat section: no table', () => {
    assert.deepEqual(parseIptablesNat('*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n', 'ipv4', 'iptables-legacy'), { table: null, incompatible: false });
  });
  // Both lines as iptables-nft-save 1.8.9 prints them (exit 0) for a nat table holding native nft rules.
  for (const line of ["# Table `nat' is incompatible, use 'nft' tool.", "# Table `nat' contains incompatible base-chains, use 'nft' tool to list them."]) {
    it(`"${line}" marks the dump incompatible`, () => {
      assert.equal(parseIptablesNat(`${line}\n*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n`, 'ipv4', 'iptables-nft').incompatible, true);
    });
  }
  it('goto, REDIRECT, SNAT ranges, NETMAP, interfaces with "+", negated ports, iprange, unknown modules', () => {
    const save = [
      '*nat',
      ':PREROUTING ACCEPT [3:180]',
      ':POSTROUTING ACCEPT [0:0]',
      ':USER - [0:0]',
      '-A PREROUTING -i eth+ -p tcp -m tcp ! --dport 22 -g USER',
      '-A USER -p udp -m udp --sport 1000:2000 -j REDIRECT --to-ports 5353',
      '-A POSTROUTING ! -o docker0 -s 172.17.0.0/16 -j SNAT --to-source 192.0.2.1-192.0.2.4:1024-2047',
      '-A POSTROUTING -m iprange --dst-range 10.0.0.1-10.0.0.9 -j NETMAP --to 10.1.0.0/24',
      '-A POSTROUTING -m set --match-set blocked dst -j MASQUERADE --to-ports 3000-4000',
      'COMMIT',
    ].join('\n');
    const t = parseIptablesNat(save, 'ipv4', 'iptables-legacy').table!;
    assert.deepEqual(t.chains.get('PREROUTING')!.rules[0]!.matches, [
      { kind: 'iif', names: [{ name: 'eth', prefix: true }], negated: false },
      { kind: 'protocol', protocols: ['tcp'], negated: false },
      { kind: 'dport', ports: [{ from: 22, to: 22 }], negated: true },
    ]);
    assert.deepEqual(t.chains.get('PREROUTING')!.rules[0]!.actions, [{ kind: 'goto', chain: 'USER' }]);
    assert.deepEqual(t.chains.get('USER')!.rules[0]!.actions, [{ kind: 'nat', nat: 'redirect', to: { ports: { from: 5353, to: 5353 } } }]);
    assert.deepEqual(t.chains.get('USER')!.rules[0]!.matches[1], { kind: 'sport', ports: [{ from: 1000, to: 2000 }], negated: false });
    const post = t.chains.get('POSTROUTING')!.rules;
    assert.deepEqual(post[0]!.matches[0], { kind: 'oif', names: [{ name: 'docker0', prefix: false }], negated: true });
    assert.deepEqual(post[0]!.actions, [{ kind: 'nat', nat: 'snat', to: { addresses: ['192.0.2.1-192.0.2.4'], ports: { from: 1024, to: 2047 } } }]);
    assert.deepEqual(post[1]!.matches, [{ kind: 'daddr', addresses: ['10.0.0.1-10.0.0.9'], negated: false }]);
    assert.deepEqual(post[1]!.actions, [{ kind: 'nat', nat: 'netmap', to: { addresses: ['10.1.0.0/24'] } }]);
    assert.deepEqual(post[2]!.matches, [{ kind: 'unknown', text: '-m set --match-set blocked dst' }]);
    assert.deepEqual(post[2]!.actions, [{ kind: 'nat', nat: 'masquerade', to: { ports: { from: 3000, to: 4000 } } }]);
  });
});

describe('splitRuleLine and parseNatTo', () => {
  it('keeps quoted words whole, with escaped quotes', () => {
    assert.deepEqual(splitRuleLine('-A X -m comment --comment "dnat name: \\"pods\\" id: \\"c\\"" -j Y'), [
      '-A',
      'X',
      '-m',
      'comment',
      '--comment',
      'dnat name: "pods" id: "c"',
      '-j',
      'Y',
    ]);
  });
  const cases: Array<[string, unknown]> = [
    ['10.0.0.1', { addresses: ['10.0.0.1'] }],
    ['10.0.0.1:8080', { addresses: ['10.0.0.1'], ports: { from: 8080, to: 8080 } }],
    ['10.0.0.1-10.0.0.3:80-90', { addresses: ['10.0.0.1-10.0.0.3'], ports: { from: 80, to: 90 } }],
    [':8080', { ports: { from: 8080, to: 8080 } }],
    ['[fd00::1]:53', { addresses: ['fd00::1'], ports: { from: 53, to: 53 } }],
    ['fd00::1', { addresses: ['fd00::1'] }],
  ];
  for (const [text, want] of cases) it(`--to ${text}`, () => assert.deepEqual(parseNatTo(text), want));
});

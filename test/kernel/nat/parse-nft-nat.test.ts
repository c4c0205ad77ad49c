// The nftables nat parser on the real captures' JSON (test/fixtures/kube-proxy-nat/).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseNftNat } from '../../../src/kernel/nat/parse-nft-nat.js';
import { natTablesOf } from '../../../src/kernel/nat/nat-reader.js';
import type { NatAction, NatTable } from '../../../src/kernel/nat/nat-rules.js';

const json = (f: string): unknown => JSON.parse(readFileSync(new URL(`../../fixtures/kube-proxy-nat/${f}`, import.meta.url), 'utf8'));

function find(tables: NatTable[], family: string, name: string): NatTable {
  const t = tables.find((x) => x.family === family && x.name === name);
  assert.ok(t, `${family} ${name}`);
  return t;
}

const branches = (a: NatAction | undefined) => (a?.kind === 'branch' ? a.branches : assert.fail(`not a branch: ${JSON.stringify(a)}`));

describe('parseNftNat on kube-proxy nftables mode', () => {
  const tables = parseNftNat([json('nftables-mode.ruleset.json')]);

  it('keeps the tables with a nat base chain, and only the nat base chains as hooks', () => {
    assert.deepEqual(tables.map((t) => `${t.family} ${t.name}`).sort(), ['ipv4 kube-proxy', 'ipv4 nat', 'ipv6 kube-proxy', 'ipv6 nat']);
    const kp = find(tables, 'ipv4', 'kube-proxy');
    assert.deepEqual(
      [...kp.chains.values()].filter((c) => c.hook).map((c) => `${c.name}:${c.hook}`),
      ['nat-prerouting:prerouting', 'nat-output:output', 'nat-postrouting:postrouting'],
    );
  });

  it('the service-ips verdict map: one branch per element, its key as matches', () => {
    const services = find(tables, 'ipv4', 'kube-proxy').chains.get('services')!;
    const map = branches(services.rules[0]!.actions[0]);
    assert.equal(map.length, 7);
    const nodeport = map.find((b) => b.text?.startsWith('10.0.0.89'))!;
    assert.deepEqual(nodeport.matches, [
      { kind: 'family', family: 'ipv4' },
      { kind: 'daddr', addresses: ['10.0.0.89'], negated: false },
      { kind: 'protocol', protocols: ['tcp'], negated: false },
      { kind: 'dport', ports: [{ from: 80, to: 80 }], negated: false },
    ]);
    assert.deepEqual(nodeport.actions, [{ kind: 'goto', chain: 'service-GCGJYZ2R-default/web-nodeport/tcp/http' }]);
  });

  it('NodePorts: the set of node addresses as a match, the ports map as branches', () => {
    const rule = find(tables, 'ipv4', 'kube-proxy').chains.get('services')!.rules[1]!;
    assert.deepEqual(rule.matches, [
      { kind: 'family', family: 'ipv4' },
      { kind: 'daddr', addresses: ['192.168.77.10'], negated: false },
    ]);
    assert.deepEqual(
      branches(rule.actions[0]).map((b) => b.matches),
      [
        [
          { kind: 'protocol', protocols: ['tcp'], negated: false },
          { kind: 'dport', ports: [{ from: 30080, to: 30080 }], negated: false },
        ],
        [
          { kind: 'protocol', protocols: ['tcp'], negated: false },
          { kind: 'dport', ports: [{ from: 30443, to: 30443 }], negated: false },
        ],
      ],
    );
  });

  it('masquerading: the mark guard, the XOR that clears it, masquerade; the mark setter; numgen and fib', () => {
    const kp = find(tables, 'ipv4', 'kube-proxy');
    const masq = kp.chains.get('masquerading')!.rules;
    assert.deepEqual(masq[0]!.matches, [{ kind: 'mark', mask: 0x4000, value: 0, negated: false }]);
    assert.deepEqual(masq[0]!.actions, [{ kind: 'return' }]);
    assert.deepEqual(masq[1]!.actions, [{ kind: 'mark', bits: 0x4000 }]);
    assert.deepEqual(masq[2]!.actions, [{ kind: 'nat', nat: 'masquerade', to: {} }]);
    assert.deepEqual(kp.chains.get('mark-for-masquerade')!.rules[0]!.actions, [{ kind: 'mark', bits: 0x4000 }]);
    const lb = branches(kp.chains.get('service-AKM3HB2X-default/web-lb/tcp/https')!.rules[1]!.actions[0]);
    assert.deepEqual(
      lb.map((b) => [b.matches, b.actions]),
      [
        [[], [{ kind: 'goto', chain: 'endpoint-WZGJQ3R7-default/web-lb/tcp/https__10.244.0.5/8443' }]],
        [[], [{ kind: 'goto', chain: 'endpoint-G3MRHPFF-default/web-lb/tcp/https__10.244.1.7/8443' }]],
      ],
    );
    assert.deepEqual(kp.chains.get('external-AKM3HB2X-default/web-lb/tcp/https')!.rules[1]!.matches, [{ kind: 'local', field: 'saddr', negated: false }]);
    assert.deepEqual(kp.chains.get('endpoint-YOJIEOU7-default/web-nodeport/tcp/http__10.244.0.5/8080')!.rules[1]!.actions, [
      { kind: 'nat', nat: 'dnat', to: { addresses: ['10.244.0.5'], ports: { from: 8080, to: 8080 } } },
    ]);
  });

  it('skips the tables read another way', () => {
    const rest = parseNftNat([json('nftables-mode.ruleset.json')], new Set(['ip nat', 'ip6 nat']));
    assert.deepEqual(rest.map((t) => `${t.family} ${t.name}`).sort(), ['ipv4 kube-proxy', 'ipv6 kube-proxy']);
  });

  it('natTablesOf finds the same tables in `nft -j list chains`', () => {
    assert.deepEqual(natTablesOf(json('nftables-mode.chains.json')).sort(), ['ip kube-proxy', 'ip nat', 'ip6 kube-proxy', 'ip6 nat']);
  });
});

describe('parseNftNat on an iptables-nft table seen by nft', () => {
  const t = find(parseNftNat([json('iptables-mode.nat.nft.json')]), 'ipv4', 'nat');
  it('xt matches are unknown, xt NAT targets are NAT rules with an unknown translation, xt MARK sets unknown bits', () => {
    const sep = t.chains.get('KUBE-SEP-342BEWF2AUCKL2WB')!.rules[1]!;
    assert.deepEqual(sep.matches, [
      { kind: 'protocol', protocols: ['tcp'], negated: false },
      { kind: 'unknown', text: 'xt match "tcp"' },
    ]);
    assert.deepEqual(sep.actions, [{ kind: 'nat', nat: 'dnat', to: { unknown: true } }]);
    assert.deepEqual(t.chains.get('KUBE-MARK-MASQ')!.rules[0]!.actions, [{ kind: 'mark', bits: 'unknown' }]);
    assert.deepEqual(t.chains.get('KUBE-SERVICES')!.rules.at(-1)!.matches, [{ kind: 'unknown', text: 'xt match "addrtype"' }]);
    // What iptables-nft writes natively, nft shows natively.
    assert.deepEqual(t.chains.get('KUBE-POSTROUTING')!.rules[0]!.matches, [{ kind: 'mark', mask: 0x4000, value: 0x4000, negated: true }]);
  });
});

describe('parseNftNat: other forms', () => {
  const doc = (rules: unknown[], extra: unknown[] = []) => ({
    nftables: [
      { table: { family: 'inet', name: 't' } },
      { chain: { family: 'inet', table: 't', name: 'pre', type: 'nat', hook: 'prerouting', prio: -100 } },
      ...extra,
      ...rules.map((expr) => ({ rule: { family: 'inet', table: 't', chain: 'pre', expr } })),
    ],
  });
  it('a table without a nat base chain is left out', () => {
    assert.deepEqual(parseNftNat([{ nftables: [{ chain: { family: 'ip', table: 'f', name: 'in', type: 'filter', hook: 'input' } }] }]), []);
  });
  it('interface wildcards, port comparisons, concatenated set lookups, a match after a statement', () => {
    const t = parseNftNat([
      doc(
        [
          [
            { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'veth*' } },
            { match: { op: '<', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 1024 } },
            { redirect: { port: 8080 } },
          ],
          [
            {
              match: {
                op: '==',
                left: { concat: [{ payload: { protocol: 'ip', field: 'daddr' } }, { payload: { protocol: 'udp', field: 'dport' } }] },
                right: '@pairs',
              },
            },
            { dnat: { family: 'ip', addr: '10.1.1.1' } },
          ],
          [
            { counter: null },
            { mangle: { key: { meta: { key: 'mark' } }, value: 1 } },
            { match: { op: '!=', left: { meta: { key: 'l4proto' } }, right: 'tcp' } },
            { masquerade: null },
          ],
        ],
        [{ set: { family: 'inet', table: 't', name: 'pairs', type: ['ipv4_addr', 'inet_service'], elem: [{ concat: ['192.0.2.1', 53] }] } }],
      ),
    ])[0]!;
    const [redirect, dnat, late] = t.chains.get('pre')!.rules;
    assert.deepEqual(redirect!.matches, [
      { kind: 'iif', names: [{ name: 'veth', prefix: true }], negated: false },
      { kind: 'dport', ports: [{ from: 0, to: 1023 }], negated: false },
    ]);
    assert.deepEqual(redirect!.actions, [{ kind: 'nat', nat: 'redirect', to: { ports: { from: 8080, to: 8080 } } }]);
    assert.deepEqual(dnat!.actions, [
      {
        kind: 'branch',
        branches: [
          {
            matches: [
              { kind: 'family', family: 'ipv4' },
              { kind: 'daddr', addresses: ['192.0.2.1'], negated: false },
              { kind: 'protocol', protocols: ['udp'], negated: false },
              { kind: 'dport', ports: [{ from: 53, to: 53 }], negated: false },
            ],
            actions: [{ kind: 'nat', nat: 'dnat', to: { addresses: ['10.1.1.1'] } }],
          },
        ],
      },
    ]);
    // The mark is set for every packet of the rule; the protocol match only guards the masquerade after it.
    assert.deepEqual(late!.matches, []);
    assert.deepEqual(late!.actions, [
      { kind: 'mark', bits: 1 },
      {
        kind: 'branch',
        branches: [{ matches: [{ kind: 'protocol', protocols: ['tcp'], negated: true }], actions: [{ kind: 'nat', nat: 'masquerade', to: {} }] }],
      },
    ]);
  });
  it('elements of a dynamic set are not relied on', () => {
    const t = parseNftNat([
      doc(
        [[{ match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '@seen' } }, { masquerade: null }]],
        [{ set: { family: 'inet', table: 't', name: 'seen', type: 'ipv4_addr', flags: ['dynamic'], elem: ['192.0.2.9'] } }],
      ),
    ])[0]!;
    assert.equal(t.chains.get('pre')!.rules[0]!.matches[0]!.kind, 'unknown');
  });
});

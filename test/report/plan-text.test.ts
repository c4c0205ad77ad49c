// plan shows each NOTRACK rule in the syntax of the backend that applies it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotrackBackendName } from '../../src/kernel/notrack/backend.js';
import { describeRule } from '../../src/kernel/notrack/describe-rule.js';
import type { DesiredState, DesiredNotrackRule } from '../../src/policy/types.js';
import { emptyBaseline, NOTRACK_KEY, type Action } from '../../src/reconcile/planner.js';
import { describeAction, describeNotApplicable, notrackChanges, renderPlanText } from '../../src/report/plan-text.js';

const web: DesiredNotrackRule = {
  name: 'web',
  interface: 'eth0',
  protocol: 'tcp',
  ports: [
    { from: 80, to: 80 },
    { from: 443, to: 443 },
  ],
  direction: 'inbound',
};
const wanted: DesiredState = { sysctls: {}, notrack: [web], acceptUntracked: true };

const cases: { backend: NotrackBackendName; canAcceptUntracked: boolean; lines: string[] }[] = [
  {
    backend: 'iptables-nft',
    canAcceptUntracked: true,
    lines: [
      '  + notrack accept-untracked (filter INPUT, first: -m conntrack --ctstate UNTRACKED -j ACCEPT)',
      '  + notrack web (raw PREROUTING -i eth0 -p tcp -m multiport --dports 80,443, raw OUTPUT -o eth0 -p tcp -m multiport --sports 80,443)',
    ],
  },
  {
    backend: 'iptables-legacy',
    canAcceptUntracked: true,
    lines: [
      '  + notrack accept-untracked (filter INPUT, first: -m conntrack --ctstate UNTRACKED -j ACCEPT)',
      '  + notrack web (raw PREROUTING -i eth0 -p tcp -m multiport --dports 80,443, raw OUTPUT -o eth0 -p tcp -m multiport --sports 80,443)',
    ],
  },
  {
    backend: 'nftables',
    canAcceptUntracked: false,
    lines: ['  + notrack web (notrack-pre iifname "eth0" tcp dport { 80, 443 }, notrack-out oifname "eth0" tcp sport { 80, 443 })'],
  },
];

for (const { backend, canAcceptUntracked, lines } of cases) {
  test(`plan text under ${backend} shows the rules in its syntax`, () => {
    const changes = notrackChanges(wanted, emptyBaseline(), { canAcceptUntracked, describe: (r) => describeRule(backend, r) });
    const text = renderPlanText({
      node: 'n1',
      policies: ['p'],
      mode: 'Enforce',
      actions: [{ kind: 'notrack-sync', key: NOTRACK_KEY, to: { rules: [web], acceptUntracked: true }, from: null, missing: [], extra: [] }],
      notrackChanges: changes,
      notApplicable: [],
      withheld: [],
      conflicts: [],
      refused: [],
    });
    assert.deepEqual(
      text.split('\n').filter((l) => l.includes('notrack')),
      lines,
    );
  });
}

const removed: DesiredNotrackRule = { name: 'old', destinations: ['10.0.0.1'], direction: 'outbound' };
const nftDescriptions: [DesiredNotrackRule, string][] = [
  [{ name: 'lo', interface: 'lo', direction: 'both' }, 'notrack-pre iifname "lo", notrack-out oifname "lo"'],
  [removed, 'notrack-out ip daddr 10.0.0.1, notrack-pre ip saddr 10.0.0.1'],
  [{ name: 'dns', protocol: 'udp', direction: 'outbound' }, 'notrack-out meta l4proto udp, notrack-pre meta l4proto udp'],
];

for (const [rule, text] of nftDescriptions) {
  test(`nftables description: ${rule.name}`, () => assert.equal(describeRule('nftables', rule), text));
}

test('a removed or changed rule is shown in the backend syntax too', () => {
  const baseline = { ...emptyBaseline(), notrackApplied: { rules: [removed, { ...web, ports: [{ from: 80, to: 80 }] }], acceptUntracked: false } };
  const changes = notrackChanges({ ...wanted, acceptUntracked: false }, baseline, { canAcceptUntracked: false, describe: (r) => describeRule('nftables', r) });
  assert.deepEqual(
    changes.map((c) => `${c.sign} ${c.name}: ${c.description}`),
    [
      '~ web: notrack-pre iifname "eth0" tcp dport { 80, 443 }, notrack-out oifname "eth0" tcp sport { 80, 443 }',
      '- old: notrack-out ip daddr 10.0.0.1, notrack-pre ip saddr 10.0.0.1',
    ],
  );
});

test('describeAction: the diff lines plan prints', () => {
  const lines: Array<[Action, string]> = [
    [{ kind: 'sysctl', key: 'nf_conntrack_tcp_timeout_established', from: 432000, to: 600 }, 'tcp established  432000 -> 600'],
    [{ kind: 'sysctl', key: 'nf_conntrack_tcp_timeout_close_wait', from: 3600, to: 60 }, 'tcp close_wait  3600 -> 60'],
    [{ kind: 'sysctl', key: 'nf_conntrack_udp_timeout', from: 30, to: 10 }, 'udp timeout  30 -> 10'],
    [{ kind: 'sysctl', key: 'nf_conntrack_max', from: 262144, to: 1048576 }, 'max  262144 -> 1048576'],
    [{ kind: 'buckets', key: 'buckets', via: 'hashsize', from: 262144, to: 524288 }, 'buckets  262144 -> 524288 (via hashsize)'],
    [
      { kind: 'notrack-sync', key: 'notrack', to: { rules: [], acceptUntracked: false }, from: null, missing: ['a', 'b'], extra: ['c'] },
      'notrack  sync: 2 to add, 1 to remove',
    ],
  ];
  for (const [action, line] of lines) assert.equal(describeAction(action), line);
  assert.equal(
    describeNotApplicable({ key: 'nf_conntrack_max', desired: 1048576, current: 262144, reason: 'read-only in this network namespace' }),
    'max  wanted 1048576 (now 262144): read-only in this network namespace',
  );
});

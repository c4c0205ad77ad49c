// plan shows each NOTRACK rule in the syntax of the backend that applies it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotrackBackendName } from '../../src/kernel/notrack/backend.js';
import { describeRule } from '../../src/kernel/notrack/describe-rule.js';
import type { DesiredState, NotrackRule } from '../../src/policy/types.js';
import { emptyBaseline, NOTRACK_KEY } from '../../src/reconcile/planner.js';
import { notrackChanges, renderPlanText } from '../../src/report/plan-text.js';

const web: NotrackRule = { name: 'web', interface: 'eth0', protocol: 'tcp', ports: [{ from: 80, to: 80 }, { from: 443, to: 443 }], direction: 'inbound' };
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
      conflicts: [],
      refused: [],
    });
    assert.deepEqual(text.split('\n').filter((l) => l.includes('notrack')), lines);
  });
}

const removed: NotrackRule = { name: 'old', destinations: ['10.0.0.1'], direction: 'outbound' };
const nftDescriptions: [NotrackRule, string][] = [
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
    ['~ web: notrack-pre iifname "eth0" tcp dport { 80, 443 }, notrack-out oifname "eth0" tcp sport { 80, 443 }', '- old: notrack-out ip daddr 10.0.0.1, notrack-pre ip saddr 10.0.0.1'],
  );
});

// A rule withheld on the kube-proxy capture, as the status, the event and
// the plan tell it: the NAT rule, its owner, the path's telling rule.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { NodeStatus, type NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { parseIptablesNat } from '../../src/kernel/nat/parse-iptables-nat.js';
import { NatGuard } from '../../src/reconcile/nat-guard.js';
import { planJson, renderPlanText, type PlanView } from '../../src/report/plan-text.js';
import { withheldCondition, withheldEvents, withheldSection } from '../../src/report/notrack-withheld.js';

const table = parseIptablesNat(
  readFileSync(new URL('../fixtures/kube-proxy-nat/iptables-mode.nat.rules', import.meta.url), 'utf8'),
  'ipv4',
  'iptables-nft',
).table!;
const guard = new NatGuard(
  { read: async () => ({ key: 'k', tables: () => [table], local: { cidrs: ['127.0.0.0/8', '192.168.77.10/32'] }, sources: {}, costMs: 0 }) },
  { clock: () => 0 },
);
const { withheld } = await guard.judge([
  { name: 'lo', interface: 'lo', direction: 'both' },
  { name: 'metrics', protocol: 'tcp', ports: [{ from: 9100, to: 9100 }], direction: 'inbound' },
]);

/** A minimal valid status document around the given extra fields. */
function status(extra: Partial<NodeStatusDoc>): NodeStatusDoc {
  return {
    nodeName: 'n1',
    lastProbeTime: '2026-01-01T00:00:00Z',
    kernel: { release: 'r', conntrackLoaded: true, notrackBackend: 'iptables-nft', tableSource: 'procfs' },
    driftCount: 0,
    conditions: [],
    ...extra,
  };
}

describe('status', () => {
  it('notrackWithheld: the rule, why, how many NAT rules, the first three with owner and path; valid against the schema', () => {
    const section = withheldSection(withheld);
    NodeStatus.parse(status(section));
    assert.equal(section.notrackWithheld?.length, 1);
    const w = section.notrackWithheld![0]!;
    assert.deepEqual([w.rule, w.reason, w.natRuleCount, w.natRules?.length], ['lo', 'NatOverlap', 5, 3]);
    assert.deepEqual(w.natRules![0], {
      nat: 'DNAT',
      table: 'iptables-nft ipv4 nat',
      rule: 'KUBE-SEP-KDNGRYKCFL5OBXKY: -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8443',
      comment: 'default/web-lb:https',
      owner: 'kube-proxy',
      via: 'KUBE-NODEPORTS: -d 127.0.0.0/8 -p tcp -m tcp --dport 30443 -j KUBE-EXT-3LHIKMIDIIQ5NUJW',
      direction: 'Original',
    });
  });

  it('the condition names the rule and the NAT rule', () => {
    const c = withheldCondition(withheld);
    assert.deepEqual([c.status, c.reason], ['True', 'NatOverlap']);
    assert.match(
      c.message,
      /^NOTRACK rule lo withheld: it would untrack packets that DNAT in KUBE-SEP-KDNGRYKCFL5OBXKY: .*\(and 4 more NAT rules\).* the policy's other settings are applied\.$/,
    );
  });
});

describe('events', () => {
  const next = status(withheldSection(withheld));
  it('a Warning when a rule becomes withheld, naming the node, the rule and the NAT rule', () => {
    const events = withheldEvents(status({}), next);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.reason}`),
      ['Warning ConntrackNotrackWithheld'],
    );
    assert.match(events[0]!.message, /^On n1: NOTRACK rule lo withheld: .*KUBE-NODEPORTS: -d 127\.0\.0\.0\/8 .*kubectl describe conntrackstatus n1\.$/);
  });
  it('not again while it stays withheld for the same reason', () => assert.deepEqual(withheldEvents(next, next), []));
});

describe('plan', () => {
  const view: PlanView = {
    node: 'n1',
    policies: ['p'],
    mode: 'Enforce',
    actions: [],
    notrackChanges: [],
    notApplicable: [],
    withheld,
    conflicts: [],
    refused: [],
  };
  it('text: the rule, the count, each NAT rule shown', () => {
    const lines = renderPlanText(view).split('\n');
    const at = lines.indexOf('withheld (not applied; an untracked packet skips the nat table):');
    assert.ok(at > 0, renderPlanText(view));
    assert.equal(lines[at + 1], '  lo: overlaps 5 NAT rule(s) on this node');
    assert.equal(
      lines[at + 2],
      '    its packets: DNAT in KUBE-SEP-KDNGRYKCFL5OBXKY: -p tcp -m tcp -j DNAT --to-destination 10.244.0.5:8443 (kube-proxy, "default/web-lb:https"), reached by KUBE-NODEPORTS: -d 127.0.0.0/8 -p tcp -m tcp --dport 30443 -j KUBE-EXT-3LHIKMIDIIQ5NUJW',
    );
  });
  it('JSON: the same entries as the status', () => {
    assert.deepEqual(planJson(view).withheld, withheldSection(withheld).notrackWithheld);
  });
});

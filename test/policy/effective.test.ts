import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { effectivePolicy, type NodeFacts } from '../../src/policy/effective.js';
import { ConntrackPolicy, type ConntrackPolicyDoc, type PolicySpecInput } from '../../src/api/v1alpha1/policy.js';

const GiB = 1024 ** 3;
const EST = 'nf_conntrack_tcp_timeout_established';
const TW = 'nf_conntrack_tcp_timeout_time_wait';
const facts: NodeFacts = { memTotalBytes: 16 * GiB, slabObjectSize: 256, currentMax: 262144, currentBuckets: 262144, conntrackCount: 1000 };

function pol(name: string, spec: PolicySpecInput): ConntrackPolicyDoc {
  return ConntrackPolicy.parse({ apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name }, spec });
}

describe('selection', () => {
  const policies = [
    pol('all', { priority: 0 }),
    pol('web', { priority: 10, nodeSelector: { matchLabels: { role: 'web' } } }),
    pol('db', { priority: 20, nodeSelector: { matchLabels: { role: 'db' } } }),
    pol('also-all', { priority: 0, nodeSelector: {} }),
  ];
  it('selects by labels, highest priority first, then by name', () => {
    assert.deepEqual(effectivePolicy(policies, { role: 'web' }, facts).selected, ['web', 'all', 'also-all']);
  });
  it('no policy selected: nothing desired', () => {
    const got = effectivePolicy([policies[2]!], { role: 'web' }, facts);
    assert.deepEqual(got.selected, []);
    assert.deepEqual(got.desired, { sysctls: {}, notrack: [], acceptUntracked: false });
    assert.equal(got.mode, 'DryRun');
  });
});

describe('merge by priority', () => {
  it('the higher priority wins per field; other fields still come from the lower one', () => {
    const got = effectivePolicy(
      [
        pol('low', { priority: 0, timeouts: { tcp: { establishedSeconds: 3600, timeWaitSeconds: 30 } } }),
        pol('high', { priority: 10, timeouts: { tcp: { establishedSeconds: 600 } } }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.desired.sysctls, { [EST]: 600, [TW]: 30 });
    assert.deepEqual(
      got.sources.map((s) => [s.field, s.policies, s.priority]),
      [
        ['spec.timeouts.tcp.establishedSeconds', ['high'], 10],
        ['spec.timeouts.tcp.timeWaitSeconds', ['low'], 0],
      ],
    );
    assert.deepEqual(got.conflicts, []);
  });

  it('equal priority and different values: Conflict, that field not applied, the others applied', () => {
    const got = effectivePolicy(
      [
        pol('a', { priority: 5, timeouts: { tcp: { establishedSeconds: 600, timeWaitSeconds: 30 } } }),
        pol('b', { priority: 5, timeouts: { tcp: { establishedSeconds: 900 } } }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.conflicts, [{ field: 'spec.timeouts.tcp.establishedSeconds', policies: ['a', 'b'], values: [600, 900] }]);
    assert.deepEqual(got.desired.sysctls, { [TW]: 30 });
  });

  it('equal priority and equal values (in different notations): no conflict, both named as sources', () => {
    const got = effectivePolicy(
      [pol('a', { timeouts: { tcp: { establishedSeconds: 600 } } }), pol('b', { timeouts: { tcp: { establishedSeconds: 600 } } })],
      {},
      facts,
    );
    assert.deepEqual(got.conflicts, []);
    assert.deepEqual(got.desired.sysctls, { [EST]: 600 });
    assert.deepEqual(got.sources[0]!.policies, ['a', 'b']);
  });

  it('a lower priority does not conflict with a higher one', () => {
    const got = effectivePolicy(
      [
        pol('a', { priority: 1, timeouts: { icmpSeconds: 10 } }),
        pol('b', { priority: 1, timeouts: { icmpSeconds: 20 } }),
        pol('c', { priority: 2, timeouts: { icmpSeconds: 15 } }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.conflicts, []);
    assert.deepEqual(got.desired.sysctls, { nf_conntrack_icmp_timeout: 15 });
  });
});

describe('NOTRACK rules and acceptUntracked', () => {
  it('rules are the union by name across policies', () => {
    const got = effectivePolicy(
      [
        pol('a', {
          notrack: [
            { name: 'loopback', interface: 'lo' },
            { name: 'web', protocol: 'tcp', ports: [80, '8000-8100'], direction: 'inbound' },
          ],
        }),
        pol('b', { notrack: [{ name: 'dns', protocol: 'udp', ports: [53], destinations: ['192.0.2.53'], direction: 'outbound' }] }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.desired.notrack, [
      { name: 'dns', direction: 'outbound', protocol: 'udp', ports: [{ from: 53, to: 53 }], destinations: ['192.0.2.53/32'] },
      { name: 'loopback', direction: 'both', interface: 'lo' },
      {
        name: 'web',
        direction: 'inbound',
        protocol: 'tcp',
        ports: [
          { from: 80, to: 80 },
          { from: 8000, to: 8100 },
        ],
      },
    ]);
  });

  it('same name, different content, equal priority: Conflict and the rule is not applied', () => {
    const got = effectivePolicy(
      [pol('a', { notrack: [{ name: 'lo', interface: 'lo' }] }), pol('b', { notrack: [{ name: 'lo', interface: 'lo', direction: 'inbound' }] })],
      {},
      facts,
    );
    assert.deepEqual(
      got.conflicts.map((c) => [c.field, c.policies]),
      [['spec.notrack[lo]', ['a', 'b']]],
    );
    assert.deepEqual(got.desired.notrack, []);
  });

  it('same name, different content, different priority: the higher wins', () => {
    const got = effectivePolicy(
      [pol('a', { priority: 1, notrack: [{ name: 'lo', interface: 'lo' }] }), pol('b', { notrack: [{ name: 'lo', interface: 'lo', direction: 'inbound' }] })],
      {},
      facts,
    );
    assert.deepEqual(got.desired.notrack, [{ name: 'lo', direction: 'both', interface: 'lo' }]);
  });

  const accept: Array<[string, Array<boolean | undefined>, boolean]> = [
    ['nobody says: false', [undefined, undefined], false],
    ['only the lower priority says true: true', [undefined, true], true],
    ['the higher says false, the lower true: false', [false, true], false],
    ['the higher says true: true', [true, false], true],
  ];
  for (const [name, [high, low], want] of accept) {
    it(`acceptUntracked: ${name}`, () => {
      const got = effectivePolicy([pol('high', { priority: 2, acceptUntracked: high }), pol('low', { priority: 1, acceptUntracked: low })], {}, facts);
      assert.equal(got.desired.acceptUntracked, want);
    });
  }
});

describe('mode per field', () => {
  it('a field won by a DryRun policy is desired but not enforced; the lower Enforce value is not used either', () => {
    const got = effectivePolicy(
      [
        pol('trial', { priority: 10, mode: 'DryRun', timeouts: { tcp: { establishedSeconds: 600 } }, notrack: [{ name: 'lo', interface: 'lo' }] }),
        pol('base', { priority: 0, timeouts: { tcp: { establishedSeconds: 3600, timeWaitSeconds: 30 } } }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.desired.sysctls, { [EST]: 600, [TW]: 30 });
    assert.deepEqual(got.enforced.sysctls, { [TW]: 30 });
    assert.equal(got.desired.notrack.length, 1);
    assert.equal(got.enforced.notrack.length, 0);
    assert.equal(got.mode, 'Enforce');
    assert.deepEqual(
      got.sources.map((s) => [s.field, s.mode]),
      [
        ['spec.notrack[lo]', 'DryRun'],
        ['spec.timeouts.tcp.establishedSeconds', 'DryRun'],
        ['spec.timeouts.tcp.timeWaitSeconds', 'Enforce'],
      ],
    );
  });

  it('equal priority, same value, one Enforce: enforced (DryRun never blocks another policy)', () => {
    const got = effectivePolicy([pol('a', { mode: 'DryRun', timeouts: { icmpSeconds: 10 } }), pol('b', { timeouts: { icmpSeconds: 10 } })], {}, facts);
    assert.deepEqual(got.enforced.sysctls, { nf_conntrack_icmp_timeout: 10 });
  });

  it('only DryRun policies: mode DryRun, nothing enforced', () => {
    const got = effectivePolicy([pol('a', { mode: 'DryRun', timeouts: { icmpSeconds: 10 }, table: { max: 524288 } })], {}, facts);
    assert.equal(got.mode, 'DryRun');
    assert.deepEqual(got.desired.sysctls, { nf_conntrack_icmp_timeout: 10, nf_conntrack_max: 524288 });
    assert.deepEqual(got.enforced, { sysctls: {}, notrack: [], acceptUntracked: false });
  });
});

describe('guardrails in the merge', () => {
  it('a refused winning value is reported and not applied; the rest of the policy applies', () => {
    const got = effectivePolicy(
      [
        pol('aggressive', { priority: 10, timeouts: { tcp: { establishedSeconds: 60, timeWaitSeconds: 30 } } }),
        pol('base', { timeouts: { tcp: { establishedSeconds: 3600 }, allowBelowSafeFloor: true } }),
      ],
      {},
      facts,
    );
    assert.deepEqual(got.desired.sysctls, { [TW]: 30 });
    assert.equal(got.refused.length, 1);
    assert.equal(got.refused[0]!.policy, 'aggressive');
    assert.equal(got.refused[0]!.path, 'spec.timeouts.tcp.establishedSeconds');
    assert.match(got.refused[0]!.message, /60s is below the safe floor of 300s/);
  });

  it('the opt-in of the winning policy allows a value below the floor', () => {
    const got = effectivePolicy([pol('a', { timeouts: { tcp: { synSentSeconds: 3 }, allowBelowSafeFloor: true } })], {}, facts);
    assert.deepEqual(got.desired.sysctls, { nf_conntrack_tcp_timeout_syn_sent: 3 });
    assert.deepEqual(got.refused, []);
  });

  it('a NOTRACK rule overlapping the Pod CIDR is refused, the other rules apply', () => {
    const got = effectivePolicy(
      [
        pol('a', {
          notrack: [
            { name: 'lo', interface: 'lo', destinations: ['127.0.0.0/8'] },
            { name: 'pods', destinations: ['10.244.0.0/16'] },
          ],
        }),
      ],
      {},
      { ...facts, podCidrs: ['10.244.0.0/16'], serviceCidrs: ['10.96.0.0/12'] },
    );
    assert.deepEqual(
      got.desired.notrack.map((r) => r.name),
      ['lo'],
    );
    assert.deepEqual(
      got.refused.map((r) => r.path),
      ['spec.notrack[pods]'],
    );
  });
});

describe('table', () => {
  it('explicit max and buckets within the budget', () => {
    const got = effectivePolicy([pol('a', { table: { max: 1048576, buckets: 262144 } })], {}, facts);
    assert.equal(got.desired.sysctls.nf_conntrack_max, 1048576);
    assert.equal(got.desired.buckets, 262144);
  });

  it('explicit max over the budget is refused; unknown slab size counts 320 bytes', () => {
    const got = effectivePolicy([pol('a', { table: { max: 4194304 } })], {}, { memTotalBytes: 16 * GiB, currentBuckets: 262144 });
    assert.equal(got.desired.sysctls.nf_conntrack_max, undefined);
    assert.match(got.refused[0]!.message, /max 4194304 x 320 B \+ buckets 262144 x 8 B/);
  });

  it('the table is one field: max and buckets are not mixed from two policies', () => {
    const got = effectivePolicy([pol('a', { priority: 1, table: { max: 524288 } }), pol('b', { table: { buckets: 131072 } })], {}, facts);
    assert.equal(got.desired.sysctls.nf_conntrack_max, 524288);
    assert.equal(got.desired.buckets, undefined);
  });

  it('autoSize sizes from the facts and says why', () => {
    const got = effectivePolicy([pol('a', { table: { autoSize: { memoryBudgetPercent: 2 } } })], {}, { ...facts, conntrackCount: 200000 });
    assert.equal(got.desired.sysctls.nf_conntrack_max, 524288);
    assert.equal(got.desired.buckets, 524288);
    assert.equal(got.autoSize?.limitedBy, 'demand');
  });

  it("autoSize leaves room in the budget for the other namespaces' entries", () => {
    // 16 GiB x 2% = 343,597,383.68 B; (that - 1,000,000 x 256) / 264 = 87,597,383.68 / 264 = 331,808 for the fullest namespace.
    const got = effectivePolicy(
      [pol('a', { table: { autoSize: { memoryBudgetPercent: 2 } } })],
      {},
      { ...facts, conntrackCount: 400_000, otherNamespacesEntries: 1_000_000 },
    );
    assert.deepEqual(
      [got.desired.sysctls.nf_conntrack_max, got.desired.buckets, got.autoSize?.limitedBy, got.autoSize?.ceiling],
      [331808, 262144, 'ceiling', 331808],
    );
  });

  it("autoSize grows ahead of the agent's forecast: the level plus growAheadSeconds of growth, at the target usage", () => {
    const ramp = { ...facts, currentMax: 8192, conntrackCount: 2500, forecast: { level: 2600, ratePerSecond: 500 } };
    // 2,600 + 500 x 30 = 17,600; at 50%: 35,200; the next doubling: 65,536.
    const got = effectivePolicy([pol('a', { table: { autoSize: { minMax: 8192, growAheadSeconds: 30 } } })], {}, ramp);
    assert.deepEqual(
      [got.desired.sysctls.nf_conntrack_max, got.autoSize?.demand, got.autoSize?.demandFrom, got.growAheadSeconds],
      [65536, 35_200, 'forecast', 30],
    );
    // The default horizon, 60 s: 2,600 + 30,000 = 32,600; 65,200 at 50%.
    assert.equal(effectivePolicy([pol('a', { table: { autoSize: { minMax: 8192 } } })], {}, ramp).autoSize?.demand, 65_200);
    assert.equal(effectivePolicy([pol('a', { table: { max: 8192 } })], {}, ramp).growAheadSeconds, undefined, 'no autoSize, no horizon of its own');
  });

  it('autoSize without the node RAM is refused', () => {
    const got = effectivePolicy([pol('a', { table: { autoSize: {} } })], {}, { slabObjectSize: 256 });
    assert.match(got.refused[0]!.message, /autoSize needs the node's RAM/);
    assert.equal(got.desired.sysctls.nf_conntrack_max, undefined);
  });
});

describe('pressure', () => {
  it('defaults to 70/90', () => assert.deepEqual(effectivePolicy([pol('a', {})], {}, facts).pressure, { warningPercent: 70, criticalPercent: 90 }));
  it('takes the winning policy, even in DryRun', () => {
    const got = effectivePolicy(
      [pol('a', { mode: 'DryRun', pressure: { warningPercent: 60, criticalPercent: 80 } }), pol('b', { priority: -1, pressure: { warningPercent: 50 } })],
      {},
      facts,
    );
    assert.deepEqual(got.pressure, { warningPercent: 60, criticalPercent: 80 });
  });
  it('a conflict leaves the defaults', () => {
    const got = effectivePolicy([pol('a', { pressure: { warningPercent: 60 } }), pol('b', { pressure: { warningPercent: 50 } })], {}, facts);
    assert.deepEqual(got.pressure, { warningPercent: 70, criticalPercent: 90 });
    assert.equal(got.conflicts[0]!.field, 'spec.pressure');
  });
});

describe('pressureResponse', () => {
  const response = { startPercent: 85, stopPercent: 70, timeouts: { tcp: { establishedSeconds: 600, timeWaitSeconds: 10 } } };
  it('merged as one field from the winning policy, with its mode, timeouts by sysctl', () => {
    const got = effectivePolicy(
      [pol('a', { mode: 'DryRun', pressureResponse: response }), pol('b', { priority: -1, pressureResponse: { timeouts: { udp: { unrepliedSeconds: 10 } } } })],
      {},
      facts,
    );
    assert.deepEqual(got.pressureResponse, {
      mode: 'DryRun',
      spec: {
        startPercent: 85,
        stopPercent: 70,
        timeouts: { [EST]: 600, [TW]: 10 },
        fields: { [EST]: 'spec.pressureResponse.timeouts.tcp.establishedSeconds', [TW]: 'spec.pressureResponse.timeouts.tcp.timeWaitSeconds' },
      },
    });
    assert.deepEqual(got.desired.sysctls, {}, 'nothing is desired from it until it is in force');
    assert.deepEqual(
      got.sources.map((s) => [s.field, s.policies]),
      [['spec.pressureResponse', ['a']]],
    );
  });
  it('equal priority, different responses: Conflict, no response', () => {
    const got = effectivePolicy([pol('a', { pressureResponse: response }), pol('b', { pressureResponse: { ...response, startPercent: 90 } })], {}, facts);
    assert.equal(got.pressureResponse, undefined);
    assert.deepEqual(got.conflicts[0]?.field, 'spec.pressureResponse');
    assert.deepEqual(got.conflicts[0]?.values, [
      { startPercent: 85, stopPercent: 70, timeouts: { [EST]: 600, [TW]: 10 } },
      { startPercent: 90, stopPercent: 70, timeouts: { [EST]: 600, [TW]: 10 } },
    ]);
  });
  it('never below the safe floors, whatever spec.timeouts allows: the whole response is refused, naming each field; the rest applies', () => {
    const got = effectivePolicy(
      [
        pol('a', {
          timeouts: { tcp: { timeWaitSeconds: 5 }, allowBelowSafeFloor: true },
          pressureResponse: { timeouts: { tcp: { establishedSeconds: 120, timeWaitSeconds: 5, closeWaitSeconds: 30 } } },
        }),
      ],
      {},
      facts,
    );
    assert.equal(got.pressureResponse, undefined);
    assert.deepEqual(got.desired.sysctls, { [TW]: 5 });
    assert.equal(got.refused.length, 1);
    assert.equal(got.refused[0]!.path, 'spec.pressureResponse');
    assert.equal(
      got.refused[0]!.message,
      'spec.pressureResponse.timeouts.tcp.establishedSeconds: 120s is below the safe floor of 300s (idle keep-alive connections would lose their entry and break); ' +
        'spec.pressureResponse.timeouts.tcp.timeWaitSeconds: 5s is below the safe floor of 10s (late retransmissions of the closing segments would find no entry); ' +
        'a pressure response never goes below the safe floors (spec.timeouts.allowBelowSafeFloor does not apply to it)',
    );
  });
  it('at the floors: accepted', () => {
    const got = effectivePolicy([pol('a', { pressureResponse: { timeouts: { tcp: { establishedSeconds: 300, timeWaitSeconds: 10 } } } })], {}, facts);
    assert.deepEqual(got.refused, []);
    assert.deepEqual(got.pressureResponse?.spec.timeouts, { [EST]: 300, [TW]: 10 });
  });
});

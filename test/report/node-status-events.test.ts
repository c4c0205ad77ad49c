// buildNodeStatus and eventsForPass together: one pass in, the status and the
// events an on-call engineer sees out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectivePolicy } from '../../src/policy/effective.js';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { ReconcileResult } from '../../src/reconcile/reconciler.js';
import { eventsForPass } from '../../src/report/node-events.js';
import { buildNodeStatus, type NodeStatusInputs, type PassOutcome } from '../../src/report/node-status.js';
import type { PressureResponseState } from '../../src/policy/pressure-response.js';
import type { NodeCidrs } from '../../src/policy/cluster-cidrs.js';
import { QUIET, hostSnapshot, passInputs, reconciledPass } from '../support/node-status-inputs.js';

const snapshot = (count: number, drop = 0) =>
  hostSnapshot({ count, max: 1000, buckets: 1024, drop, sysctls: { nf_conntrack_tcp_timeout_established: 600 }, memTotalBytes: 8 << 30 });

const parsed = validatePolicyObjects(
  [
    {
      object: {
        apiVersion: 'conntrack.io/v1alpha1',
        kind: 'ConntrackPolicy',
        metadata: { name: 'web', generation: 3 },
        spec: { timeouts: { tcp: { establishedSeconds: 600 } } },
      },
      document: 1,
    },
  ],
  't',
);
if ('errors' in parsed) throw new Error('bad fixture');
const effective = effectivePolicy(parsed.policies, {}, {});

const reconciled = (over: Partial<ReconcileResult>): PassOutcome => reconciledPass(effective, { web: 3 }, over);

const KNOWN: NodeCidrs = {
  kubernetesNode: true,
  service: { cidrs: ['10.0.0.0/24'], from: 'ServiceCIDR kubernetes' },
  pod: { cidrs: ['10.244.1.0/24'], from: 'Node spec.podCIDRs' },
};

function inputs(over: Partial<NodeStatusInputs>): NodeStatusInputs {
  return passInputs({
    snapshot: snapshot(100),
    cidrs: KNOWN,
    outcome: reconciled({}),
    baseline: { values: { nf_conntrack_tcp_timeout_established: 432000 }, notrackOwned: false },
    ...over,
  });
}

const conditions = (i: NodeStatusInputs) => Object.fromEntries(buildNodeStatus(i).status.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));

test('a healthy applied node', () => {
  const { status } = buildNodeStatus(inputs({}));
  assert.deepEqual(conditions(inputs({})), {
    Ready: 'True/Ready',
    Applied: 'True/Applied',
    Drifted: 'False/InSync',
    Pressure: 'False/Normal',
    TableFull: 'False/NotDropping',
    InsertionRace: 'False/NoRaceDrops',
    FillingUp: 'Unknown/NoForecast',
    PressureResponse: 'False/NotConfigured',
    ClusterCidrsKnown: 'True/Known',
    NotrackWithheld: 'False/NoneWithheld',
  });
  assert.equal(status.pressureResponse, undefined, 'no response configured: no section');
  assert.equal(status.table?.usage, '10%');
  assert.equal(status.table?.bytes, 1000 * 256 + 1024 * 8);
  assert.deepEqual(status.appliedPolicy, { name: 'web', policies: [{ name: 'web', generation: 3 }], mode: 'Enforce' });
  assert.equal(status.baseline?.['nf_conntrack_tcp_timeout_established'], '432000');
  // The object's own generation (a ConntrackStatus has no spec); the policy's is in appliedPolicy.
  assert.ok(status.conditions.every((c) => c.observedGeneration === 1));
  assert.equal(status.conditions[0]!.type, 'Ready');
});

test('ConntrackPolicyApplied says what was applied and what was given back (no Enforce policy asks for it any more)', () => {
  const execution = {
    ok: true,
    applied: [
      { kind: 'sysctl' as const, key: 'nf_conntrack_tcp_timeout_established', from: 432000, to: 600 },
      { kind: 'sysctl' as const, key: 'nf_conntrack_tcp_timeout_time_wait', from: 30, to: 120 },
    ],
    rolledBack: [],
    rollbackErrors: [],
  };
  const outcome = reconciled({ execution });
  const events = eventsForPass(null, buildNodeStatus(inputs({ outcome })).status, outcome);
  assert.deepEqual(
    events.filter((e) => e.reason === 'ConntrackPolicyApplied').map((e) => e.message),
    [
      'ConntrackPolicy web: applied nf_conntrack_tcp_timeout_established; gave back nf_conntrack_tcp_timeout_time_wait (no Enforce policy asks for them any more).',
    ],
  );
});

test('ClusterCidrsKnown: which ranges are known and from where; the rules refused while one is not', () => {
  const rulePolicy = validatePolicyObjects(
    [
      {
        object: {
          apiVersion: 'conntrack.io/v1alpha1',
          kind: 'ConntrackPolicy',
          metadata: { name: 'edge', generation: 1 },
          spec: {
            notrack: [
              { name: 'loopback', interface: 'lo', destinations: ['127.0.0.0/8'] },
              { name: 'web', protocol: 'tcp', ports: [443], destinations: ['203.0.113.10/32'] },
            ],
          },
        },
        document: 1,
      },
    ],
    't',
  );
  if ('errors' in rulePolicy) throw new Error('bad fixture');
  const podUnknown: NodeCidrs = { ...KNOWN, pod: { cidrs: null, why: 'this Node has no spec.podCIDRs' } };
  const outcomeWith = (c: NodeCidrs): PassOutcome => {
    const e = effectivePolicy(rulePolicy.policies, {}, { serviceCidrs: c.service.cidrs, podCidrs: c.pod.cidrs });
    return { ...reconciled({}), effective: e } as PassOutcome;
  };
  const cases: Array<{ name: string; cidrs: NodeCidrs; expect: [string, string]; message: RegExp }> = [
    {
      name: 'both known',
      cidrs: KNOWN,
      expect: ['True', 'Known'],
      message: /^Service: 10\.0\.0\.0\/24 \(ServiceCIDR kubernetes\); Pod: 10\.244\.1\.0\/24 \(Node spec\.podCIDRs\)\.$/,
    },
    {
      name: 'the Pod ranges not known: the rule that depends on them is named, the node-local one is not',
      cidrs: podUnknown,
      expect: ['False', 'Unknown'],
      message: /Pod: not known \(this Node has no spec\.podCIDRs\)\. .*refused now spec\.notrack\[web\] of edge\. Give them with agent\.serviceCidrs/,
    },
    {
      name: 'not a Kubernetes node',
      cidrs: { kubernetesNode: false, service: { cidrs: null, why: 'no --service-cidr given' }, pod: { cidrs: null, why: 'no --pod-cidr given' } },
      expect: ['True', 'NotKubernetes'],
      message: /^Not a Kubernetes node \(no kubelet or kube-proxy runs here\)/,
    },
  ];
  for (const c of cases) {
    const got = buildNodeStatus(inputs({ cidrs: c.cidrs, outcome: outcomeWith(c.cidrs) })).status.conditions.find((x) => x.type === 'ClusterCidrsKnown');
    assert.deepEqual([got?.status, got?.reason], c.expect, c.name);
    assert.match(got?.message ?? '', c.message, c.name);
  }
});

const EST = 'nf_conntrack_tcp_timeout_established';
const responding = (over: Partial<PressureResponseState>): PressureResponseState => ({
  active: false,
  sinceMs: null,
  thresholds: { startPercent: 80, stopPercent: 60 },
  timeouts: {},
  enforced: true,
  ...over,
});

const cases: Array<{ name: string; over: Partial<NodeStatusInputs>; conditions: Record<string, string>; events: string[] }> = [
  {
    name: 'a pressure response that starts',
    over: { snapshot: snapshot(850), pressureResponse: responding({ active: true, sinceMs: Date.parse('2026-01-01T00:00:00Z'), timeouts: { [EST]: 300 } }) },
    conditions: { PressureResponse: 'True/Active', Pressure: 'True/Warning' },
    events: ['Warning ConntrackTablePressure', 'Warning ConntrackPressureResponseStarted'],
  },
  {
    name: 'a pressure response below its threshold',
    over: { pressureResponse: responding({}) },
    conditions: { PressureResponse: 'False/Inactive' },
    events: [],
  },
  { name: 'pressure warning at 75%', over: { snapshot: snapshot(750) }, conditions: { Pressure: 'True/Warning' }, events: ['Warning ConntrackTablePressure'] },
  {
    name: 'pressure critical at 95%',
    over: { snapshot: snapshot(950) },
    conditions: { Pressure: 'True/Critical' },
    events: ['Warning ConntrackTablePressure'],
  },
  {
    name: 'drops without insert_failed at 100%: table full',
    over: { snapshot: snapshot(1000), drops: { window: { ...QUIET, tableFull: 12 }, kernelLoggedFull: true } },
    conditions: { Ready: 'False/TableFull', TableFull: 'True/Dropping', InsertionRace: 'False/NoRaceDrops', Pressure: 'True/Critical' },
    events: ['Warning ConntrackTablePressure', 'Warning ConntrackTableFull'],
  },
  {
    name: 'drops with insert_failed on a table 4% full: the insertion race, not a full table',
    over: { snapshot: snapshot(40), drops: { window: { ...QUIET, insertionRace: 7, insertFailed: 7 }, kernelLoggedFull: false } },
    conditions: { Ready: 'False/InsertionRace', TableFull: 'False/NotDropping', InsertionRace: 'True/RaceDrops', Pressure: 'False/Normal' },
    events: ['Warning ConntrackInsertionRace'],
  },
  {
    name: 'races resolved by the kernel: no condition, no event',
    over: { drops: { window: { ...QUIET, clashResolved: 236 }, kernelLoggedFull: false } },
    conditions: { TableFull: 'False/NotDropping', InsertionRace: 'False/NoRaceDrops' },
    events: [],
  },
  {
    name: 'the kernel logged table full',
    over: { drops: { window: QUIET, kernelLoggedFull: true } },
    conditions: { TableFull: 'True/KernelReportedFull' },
    events: ['Warning ConntrackTableFull'],
  },
  {
    name: 'first pass: one sample, drops not judged',
    over: { drops: { window: null, kernelLoggedFull: false } },
    conditions: { TableFull: 'Unknown/FirstSample', InsertionRace: 'Unknown/FirstSample' },
    events: [],
  },
  {
    name: 'counters unreadable: drops not judged, and it says why',
    over: {
      snapshot: { ...snapshot(100), stats: { source: null, counters: null, entries: null, cpus: 0, missing: [] } },
      drops: { window: null, kernelLoggedFull: false },
    },
    conditions: { TableFull: 'Unknown/CountersUnreadable', InsertionRace: 'Unknown/CountersUnreadable', Ready: 'True/Ready' },
    events: [],
  },
  {
    name: 'drift named with the likely writer',
    over: { outcome: reconciled({ drift: [{ key: 'nf_conntrack_max', desired: 1048576, actual: 262144, since: 't', likelyWriter: 'kube-proxy' }] }) },
    conditions: { Drifted: 'True/Drift' },
    events: ['Warning ConntrackDriftDetected'],
  },
  {
    name: 'apply failed',
    over: {
      outcome: reconciled({
        inSync: false,
        execution: {
          ok: false,
          applied: [],
          failed: { action: { kind: 'sysctl', key: 'nf_conntrack_max', from: 1, to: 2 }, error: 'read-only in this network namespace (EACCES)' },
          rolledBack: [],
          rollbackErrors: [],
        },
      }),
    },
    conditions: { Applied: 'False/ApplyFailed', Ready: 'False/ApplyFailed' },
    events: ['Warning ConntrackPolicyFailed'],
  },
  {
    name: 'applied changes',
    over: { outcome: reconciled({ execution: { ok: true, applied: [{ kind: 'sysctl', key: 'k', from: 1, to: 2 }], rolledBack: [], rollbackErrors: [] } }) },
    conditions: { Applied: 'True/Applied' },
    events: ['Normal ConntrackPolicyApplied'],
  },
  {
    name: 'restored',
    over: { outcome: { kind: 'restored', result: { ok: true, plan: { actions: [], notApplicable: [], inSync: true } } } },
    conditions: { Applied: 'False/Restored' },
    events: ['Normal ConntrackRestored'],
  },
  { name: 'no policy', over: { outcome: { kind: 'no-policy' } }, conditions: { Applied: 'False/NoPolicy', Ready: 'True/Ready' }, events: [] },
  {
    name: 'a NOTRACK rule withheld: reported, not a failure',
    over: {
      outcome: reconciled({
        withheld: [{ rule: 'lo', reason: 'NatOverlap', message: 'NOTRACK rule lo withheld: it would untrack packets that DNAT in X: -j DNAT rewrites' }],
      }),
    },
    conditions: { NotrackWithheld: 'True/NatOverlap', Applied: 'True/Applied', Ready: 'True/Ready' },
    events: ['Warning ConntrackNotrackWithheld'],
  },
  {
    name: 'NAT rules unreadable: every NOTRACK rule withheld',
    over: {
      outcome: reconciled({
        withheld: [{ rule: 'lo', reason: 'NatRulesUnreadable', message: "NOTRACK rule lo withheld: the node's NAT rules could not be read" }],
      }),
    },
    conditions: { NotrackWithheld: 'True/NatRulesUnreadable' },
    events: ['Warning ConntrackNotrackWithheld'],
  },
  {
    name: 'a failed pass: not checked',
    over: { outcome: { kind: 'error', message: 'boom' } },
    conditions: { NotrackWithheld: 'Unknown/NotChecked' },
    events: ['Warning ConntrackPolicyFailed'],
  },
];
for (const tc of cases) {
  test(`status and events: ${tc.name}`, () => {
    const i = inputs(tc.over);
    const got = conditions(i);
    for (const [k, v] of Object.entries(tc.conditions)) assert.equal(got[k], v, k);
    const prev = buildNodeStatus(inputs({})).status;
    const events = eventsForPass(prev, buildNodeStatus(i).status, i.outcome);
    assert.deepEqual(
      events.map((e) => `${e.type} ${e.reason}`),
      tc.events,
    );
    for (const e of events) assert.match(e.message, /n1|web/, 'the message names the node or the policy');
  });
}

test('a drift already reported is not reported again; pressure only when it starts or worsens', () => {
  const drifting = inputs({ snapshot: snapshot(800), outcome: reconciled({ drift: [{ key: 'k', desired: 1, actual: 2, since: 't' }] }) });
  const first = buildNodeStatus(drifting).status;
  assert.deepEqual(eventsForPass(first, buildNodeStatus(drifting).status, drifting.outcome), []);
});

test('the pressure response in the status: what is in force, since when, and in which words', () => {
  const since = Date.parse('2026-01-01T00:00:00Z');
  const cases: Array<{ name: string; state: PressureResponseState | undefined; count: number; section: unknown; message: RegExp }> = [
    { name: 'not configured', state: undefined, count: 100, section: undefined, message: /^No policy sets spec\.pressureResponse\.$/ },
    {
      name: 'configured, never started',
      state: responding({}),
      count: 100,
      section: { active: false, startPercent: 80, stopPercent: 60, enforced: true },
      message: /is 10% \(the response starts at 80%\): the policy's own timeouts are in force\.$/,
    },
    {
      name: 'active, enforced',
      state: responding({ active: true, sinceMs: since, timeouts: { [EST]: 300, nf_conntrack_tcp_timeout_time_wait: 10 } }),
      count: 850,
      section: {
        active: true,
        since: '2026-01-01T00:00:00.000Z',
        startPercent: 80,
        stopPercent: 60,
        enforced: true,
        timeouts: { [EST]: 300, nf_conntrack_tcp_timeout_time_wait: 10 },
      },
      message:
        /reached 80% \(now 85%\): nf_conntrack_tcp_timeout_established=300s, nf_conntrack_tcp_timeout_time_wait=10s in place of the policy's own until usage falls below 60%\.$/,
    },
    {
      name: 'active, DryRun',
      state: responding({ active: true, sinceMs: since, timeouts: { [EST]: 300 }, enforced: false }),
      count: 850,
      section: { active: true, since: '2026-01-01T00:00:00.000Z', startPercent: 80, stopPercent: 60, enforced: false, timeouts: { [EST]: 300 } },
      message: /DryRun, nothing is written; the response would put nf_conntrack_tcp_timeout_established=300s in place/,
    },
    {
      name: "active, the policy's own already lower",
      state: responding({ active: true, sinceMs: since }),
      count: 850,
      section: { active: true, since: '2026-01-01T00:00:00.000Z', startPercent: 80, stopPercent: 60, enforced: true, timeouts: {} },
      message: /already at or below the response's, so none is lowered until usage falls below 60%/,
    },
    {
      name: 'ended',
      state: responding({ sinceMs: since }),
      count: 500,
      section: { active: false, since: '2026-01-01T00:00:00.000Z', startPercent: 80, stopPercent: 60, enforced: true },
      message: /is 50% \(the response starts at 80%\)/,
    },
  ];
  for (const c of cases) {
    const { status } = buildNodeStatus(inputs({ snapshot: snapshot(c.count), ...(c.state ? { pressureResponse: c.state } : {}) }));
    assert.deepEqual(status.pressureResponse, c.section, c.name);
    assert.match(status.conditions.find((x) => x.type === 'PressureResponse')?.message ?? '', c.message, c.name);
  }
});

test('the pressure response: one event when it starts, one when it ends, none while it lasts', () => {
  const since = Date.parse('2026-01-01T00:00:00Z');
  const off = buildNodeStatus(inputs({ pressureResponse: responding({}) })).status;
  const onInputs = inputs({ snapshot: snapshot(850), pressureResponse: responding({ active: true, sinceMs: since, timeouts: { [EST]: 300 } }) });
  const on = buildNodeStatus(onInputs).status;
  const offAgain = buildNodeStatus(inputs({ snapshot: snapshot(500), pressureResponse: responding({ sinceMs: since + 60_000 }) })).status;
  const responseEvents = (prev: typeof on, next: typeof on) => eventsForPass(prev, next, reconciled({})).filter((e) => e.reason.includes('PressureResponse'));
  const started = responseEvents(off, on);
  assert.deepEqual(
    started.map((e) => `${e.type} ${e.reason}`),
    ['Warning ConntrackPressureResponseStarted'],
  );
  assert.match(
    started[0]!.message,
    /^Connection tracking table under pressure on n1: .*established=300s in place of the policy's own until usage falls below 60%\./,
  );
  assert.deepEqual(responseEvents(on, buildNodeStatus({ ...onInputs, previousConditions: on.conditions }).status), [], 'still active: no event');
  const ended = responseEvents(on, offAgain);
  assert.deepEqual(
    ended.map((e) => `${e.type} ${e.reason}`),
    ['Normal ConntrackPressureResponseEnded'],
  );
  assert.match(ended[0]!.message, /^Pressure response ended on n1: .* is 50% .*the policy's own timeouts are in force\.$/);
  const removed = buildNodeStatus(inputs({ snapshot: snapshot(850) })).status;
  assert.deepEqual(
    responseEvents(on, removed).map((e) => e.reason),
    ['ConntrackPressureResponseEnded'],
    'the policy dropped its response while it was active',
  );
});

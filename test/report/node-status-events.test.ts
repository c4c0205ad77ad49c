// buildNodeStatus and eventsForPass together: one pass in, the status and the
// events an on-call engineer sees out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostSnapshot } from '../../src/kernel/snapshot.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { ReconcileResult } from '../../src/reconcile/reconciler.js';
import { eventsForPass } from '../../src/report/node-events.js';
import type { DropWindow } from '../../src/report/drops.js';
import { buildNodeStatus, type NodeStatusInputs, type PassOutcome } from '../../src/report/node-status.js';

const snapshot = (count: number, drop = 0): HostSnapshot => ({
  kernelRelease: '6.18.44',
  moduleLoaded: true,
  netns: { host: true, inode: 4026531833 },
  table: { count, max: 1000, buckets: 1024, hashsize: 1024 },
  sysctls: { nf_conntrack_tcp_timeout_established: 600 },
  stats: { source: 'stat-file', counters: { drop, earlyDrop: 0, insertFailed: 0, invalid: 0, searchRestart: 0 }, entries: count, cpus: 2, missing: [] },
  memory: { memTotalBytes: 8 << 30, slabObjectSize: 256 },
  kubeProxy: { running: false, pids: [] },
  unreadable: [],
});

const quiet: DropWindow = { seconds: 30, tableFull: 0, insertionRace: 0, earlyDrop: 0, insertFailed: 0, clashResolved: 0 };

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

function reconciled(over: Partial<ReconcileResult>): PassOutcome {
  const result: ReconcileResult = {
    mode: 'Enforce',
    plan: { actions: [], notApplicable: [], inSync: true },
    drift: [],
    notApplicable: [],
    inSync: true,
    durationMs: 1,
    withheld: [],
    ...over,
  };
  return { kind: 'reconciled', effective, result, generations: { web: 3 } };
}

function inputs(over: Partial<NodeStatusInputs>): NodeStatusInputs {
  return {
    nodeName: 'n1',
    now: new Date('2026-01-01T00:00:00Z'),
    snapshot: snapshot(100),
    summary: null,
    tableSource: 'procfs',
    notrackBackend: 'nftables',
    outcome: reconciled({}),
    baseline: { values: { nf_conntrack_tcp_timeout_established: 432000 }, notrackOwned: false },
    drops: { window: quiet, kernelLoggedFull: false },
    previousConditions: [],
    ...over,
  };
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
    NotrackWithheld: 'False/NoneWithheld',
  });
  assert.equal(status.table?.usage, '10%');
  assert.equal(status.table?.bytes, 1000 * 256 + 1024 * 8);
  assert.deepEqual(status.appliedPolicy, { name: 'web', policies: [{ name: 'web', generation: 3 }], mode: 'Enforce' });
  assert.equal(status.baseline?.['nf_conntrack_tcp_timeout_established'], '432000');
  // The object's own generation (a ConntrackStatus has no spec); the policy's is in appliedPolicy.
  assert.ok(status.conditions.every((c) => c.observedGeneration === 1));
  assert.equal(status.conditions[0]!.type, 'Ready');
});

const cases: Array<{ name: string; over: Partial<NodeStatusInputs>; conditions: Record<string, string>; events: string[] }> = [
  { name: 'pressure warning at 75%', over: { snapshot: snapshot(750) }, conditions: { Pressure: 'True/Warning' }, events: ['Warning ConntrackTablePressure'] },
  {
    name: 'pressure critical at 95%',
    over: { snapshot: snapshot(950) },
    conditions: { Pressure: 'True/Critical' },
    events: ['Warning ConntrackTablePressure'],
  },
  {
    name: 'drops without insert_failed at 100%: table full',
    over: { snapshot: snapshot(1000), drops: { window: { ...quiet, tableFull: 12 }, kernelLoggedFull: true } },
    conditions: { Ready: 'False/TableFull', TableFull: 'True/Dropping', InsertionRace: 'False/NoRaceDrops', Pressure: 'True/Critical' },
    events: ['Warning ConntrackTablePressure', 'Warning ConntrackTableFull'],
  },
  {
    name: 'drops with insert_failed on a table 4% full: the insertion race, not a full table',
    over: { snapshot: snapshot(40), drops: { window: { ...quiet, insertionRace: 7, insertFailed: 7 }, kernelLoggedFull: false } },
    conditions: { Ready: 'False/InsertionRace', TableFull: 'False/NotDropping', InsertionRace: 'True/RaceDrops', Pressure: 'False/Normal' },
    events: ['Warning ConntrackInsertionRace'],
  },
  {
    name: 'races resolved by the kernel: no condition, no event',
    over: { drops: { window: { ...quiet, clashResolved: 236 }, kernelLoggedFull: false } },
    conditions: { TableFull: 'False/NotDropping', InsertionRace: 'False/NoRaceDrops' },
    events: [],
  },
  {
    name: 'the kernel logged table full',
    over: { drops: { window: quiet, kernelLoggedFull: true } },
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

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { ConntrackPolicyDoc } from '../../src/api/v1alpha1/policy.js';
import { buildPolicyStatus, conflictsByPolicy, type ClusterView } from '../../src/report/policy-status.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';

const now = new Date('2026-01-01T00:00:00Z');

function policy(name: string, spec: Record<string, unknown>): ConntrackPolicyDoc {
  const r = validatePolicyObjects(
    [{ object: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name, generation: 2 }, spec }, document: 1 }],
    'test',
  );
  if ('errors' in r) throw new Error(JSON.stringify(r.errors));
  return r.policies[0]!;
}

function nodeStatus(name: string, applied: [string, string], drifted: 'True' | 'False', policies = [{ name: 'web', generation: 2 }]): NodeStatusDoc {
  const cond = (type: 'Applied' | 'Drifted', status: string, reason: string) => ({
    type,
    status: status as 'True',
    reason,
    message: '',
    lastTransitionTime: 't',
    observedGeneration: 2,
  });
  return {
    nodeName: name,
    lastProbeTime: 't',
    kernel: { release: 'r', conntrackLoaded: true, notrackBackend: 'nftables', tableSource: 'procfs' },
    appliedPolicy: { name: policies.map((p) => p.name).join(','), policies, mode: 'Enforce' },
    driftCount: 0,
    conditions: [cond('Applied', applied[0], applied[1]), cond('Drifted', drifted, drifted === 'True' ? 'Drift' : 'InSync')],
  };
}

const nodes: ClusterView['nodes'] = [
  { name: 'w1', labels: { role: 'web' } },
  { name: 'w2', labels: { role: 'web' } },
  { name: 'w3', labels: { role: 'web' } },
  { name: 'w4', labels: { role: 'web' } },
  { name: 'db', labels: { role: 'db' } },
];

test('counts selected, in sync, drifted, failed; Degraded and not Ready', () => {
  const view: ClusterView = {
    nodes,
    statuses: new Map([
      ['w1', nodeStatus('w1', ['True', 'Applied'], 'False')],
      ['w2', nodeStatus('w2', ['True', 'Applied'], 'True')],
      ['w3', nodeStatus('w3', ['False', 'ApplyFailed'], 'False')],
      ['db', nodeStatus('db', ['True', 'Applied'], 'False')],
    ]),
  };
  const s = buildPolicyStatus({ name: 'web', generation: 2, nodeSelector: { matchLabels: { role: 'web' } }, errors: [], previous: [] }, view, undefined, now);
  assert.deepEqual([s.selectedNodes, s.inSyncNodes, s.driftedNodes, s.failedNodes], [4, 1, 1, 1]);
  assert.equal(s.observedGeneration, 2);
  const c = Object.fromEntries(s.conditions.map((x) => [x.type, [x.status, x.reason]]));
  assert.deepEqual(c, { Rejected: ['False', 'Valid'], Conflict: ['False', 'NoConflict'], Degraded: ['True', 'NodesFailed'], Ready: ['False', 'NotAllInSync'] });
});

test('DryRun: a node with a plan left is neither in sync nor drifted; one that already matches is in sync', () => {
  const dryRun = (name: string, plan: NodeStatusDoc['plan']) => ({ ...nodeStatus(name, ['False', 'DryRun'], 'False'), ...(plan ? { plan } : {}) });
  const view: ClusterView = {
    nodes: nodes.slice(0, 2),
    statuses: new Map([
      ['w1', dryRun('w1', [{ key: 'nf_conntrack_max', change: '262144 -> 1048576' }])],
      ['w2', dryRun('w2', undefined)],
    ]),
  };
  const s = buildPolicyStatus({ name: 'web', generation: 2, nodeSelector: {}, errors: [], previous: [] }, view, undefined, now);
  assert.deepEqual([s.selectedNodes, s.inSyncNodes, s.driftedNodes, s.failedNodes], [2, 1, 0, 0]);
  assert.equal(s.conditions.find((c) => c.type === 'Degraded')?.status, 'False', 'a plan degrades nothing');
});

test('a node that applied an older generation is not in sync yet', () => {
  const view: ClusterView = {
    nodes: nodes.slice(0, 1),
    statuses: new Map([['w1', nodeStatus('w1', ['True', 'Applied'], 'False', [{ name: 'web', generation: 1 }])]]),
  };
  const s = buildPolicyStatus({ name: 'web', generation: 2, nodeSelector: {}, errors: [], previous: [] }, view, undefined, now);
  assert.equal(s.inSyncNodes, 0);
});

test('all in sync: Ready', () => {
  const view: ClusterView = { nodes: nodes.slice(0, 2), statuses: new Map(['w1', 'w2'].map((n) => [n, nodeStatus(n, ['True', 'Applied'], 'False')])) };
  const s = buildPolicyStatus({ name: 'web', generation: 2, nodeSelector: {}, errors: [], previous: [] }, view, undefined, now);
  assert.deepEqual(
    s.conditions.find((c) => c.type === 'Ready'),
    {
      type: 'Ready',
      status: 'True',
      reason: 'AllInSync',
      message: 'All 2 selected node(s) are in sync.',
      observedGeneration: 2,
      lastTransitionTime: now.toISOString(),
    },
  );
});

test('a rejected policy says why', () => {
  const s = buildPolicyStatus(
    {
      name: 'bad',
      generation: 1,
      nodeSelector: {},
      errors: [{ policy: 'bad', path: 'spec.timeouts.tcp.establishedSeconds', message: 'must be at least 1 second' }],
      previous: [],
    },
    { nodes: [], statuses: new Map() },
    undefined,
    now,
  );
  const r = s.conditions.find((c) => c.type === 'Rejected')!;
  assert.equal(r.status, 'True');
  assert.match(r.message, /spec\.timeouts\.tcp\.establishedSeconds: must be at least 1 second/);
});

test('conflicts: equal priority, different values, on shared nodes only', () => {
  const a = policy('a', { priority: 5, timeouts: { tcp: { establishedSeconds: 600 } } });
  const b = policy('b', { priority: 5, nodeSelector: { matchLabels: { role: 'web' } }, timeouts: { tcp: { establishedSeconds: 900 } } });
  const c = policy('c', { priority: 9, nodeSelector: { matchLabels: { role: 'db' } }, timeouts: { tcp: { establishedSeconds: 900 } } });
  const conflicts = conflictsByPolicy([a, b, c], nodes);
  assert.deepEqual([...conflicts.keys()].sort(), ['a', 'b']);
  assert.match([...conflicts.get('a')!][0]!, /timeouts\.tcp\.established.*\(with b\)/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState } from '../../src/policy/types.js';
import { CorrectionGuard, detectDrift, likelyWriter, type DriftInput } from '../../src/reconcile/drift.js';
import type { ObservedState } from '../../src/kernel/observed-state.js';

const MIN = 60_000;
const T0 = Date.parse('2026-11-22T04:00:00Z');

const desired: DesiredState = {
  sysctls: { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_time_wait: 30 },
  buckets: 524288,
  notrack: [{ name: 'loopback', interface: 'lo', direction: 'both' }],
  acceptUntracked: false,
};

function observed(max: number, timeWait: number, buckets = 524288): ObservedState {
  return {
    sysctls: { nf_conntrack_max: { value: max, writable: true }, nf_conntrack_tcp_timeout_time_wait: { value: timeWait, writable: true } },
    buckets: { value: buckets, via: 'sysctl' },
    hostNetns: true,
  };
}

const base: DriftInput = { desired, observed: observed(1048576, 30), notrack: null, previous: [], facts: { kubeProxyRunning: false }, now: T0 };

test('drift: none while the node matches', () => {
  assert.deepEqual(detectDrift(base), []);
});

test('drift: since is kept while the drift persists and starts anew after it ended', () => {
  const first = detectDrift({ ...base, observed: observed(262144, 30) });
  assert.deepEqual(first, [{ key: 'nf_conntrack_max', desired: 1048576, actual: 262144, since: '2026-11-22T04:00:00.000Z', likelyWriter: 'unknown' }]);
  const still = detectDrift({ ...base, observed: observed(131072, 30), previous: first, now: T0 + 5 * MIN });
  assert.equal(still[0]?.since, '2026-11-22T04:00:00.000Z');
  assert.equal(still[0]?.actual, 131072);
  const ended = detectDrift({ ...base, previous: still, now: T0 + 6 * MIN });
  const again = detectDrift({ ...base, observed: observed(262144, 30), previous: ended, now: T0 + 7 * MIN });
  assert.equal(again[0]?.since, '2026-11-22T04:07:00.000Z');
});

test('drift: buckets, NOTRACK rules, and the keys filter', () => {
  const records = detectDrift({
    ...base,
    observed: observed(1048576, 120, 262144),
    notrack: { inSync: false, missing: ['a', 'b'], extra: [], ownedRules: 0 },
    keys: new Set(['buckets', 'notrack']),
  });
  assert.deepEqual(
    records.map((r) => [r.key, r.desired, r.actual]),
    [
      ['buckets', 524288, 262144],
      ['notrack', 2, 0],
    ],
  );
});

test('drift: the likely writer', () => {
  const cases: Array<[string, { kubeProxyRunning: boolean; sysctlDKeys?: string[] }, string]> = [
    ['nf_conntrack_max', { kubeProxyRunning: true }, 'kube-proxy'],
    ['buckets', { kubeProxyRunning: true }, 'kube-proxy'],
    ['nf_conntrack_tcp_timeout_established', { kubeProxyRunning: true }, 'kube-proxy'],
    ['nf_conntrack_tcp_timeout_close_wait', { kubeProxyRunning: true }, 'kube-proxy'],
    ['nf_conntrack_udp_timeout_stream', { kubeProxyRunning: true }, 'kube-proxy'],
    ['nf_conntrack_tcp_be_liberal', { kubeProxyRunning: true }, 'kube-proxy'],
    ['nf_conntrack_tcp_timeout_time_wait', { kubeProxyRunning: true }, 'unknown'],
    ['nf_conntrack_max', { kubeProxyRunning: false }, 'unknown'],
    ['nf_conntrack_max', { kubeProxyRunning: false, sysctlDKeys: ['net.netfilter.nf_conntrack_max'] }, 'sysctl.d'],
  ];
  for (const [key, facts, writer] of cases) assert.equal(likelyWriter(key, facts), writer, `${key} ${JSON.stringify(facts)}`);
});

test('guard: stops after 3 corrections in 10 minutes, resumes when the window passes or desired changes', () => {
  let now = T0;
  const guard = new CorrectionGuard({ clock: () => now, maxCorrections: 3, windowMs: 10 * MIN });
  const steps: Array<[number, boolean]> = [
    [0, false],
    [1, false],
    [2, false],
    [3, true], // three corrections within the window: stop fighting
    [9, true],
    [10, false], // the first correction left the window
  ];
  for (const [minute, fighting] of steps) {
    now = T0 + minute * MIN;
    assert.equal(guard.fighting('nf_conntrack_max', 1048576), fighting, `minute ${minute}`);
    if (!fighting && minute < 3) guard.recordCorrection('nf_conntrack_max', 1048576);
  }
  assert.equal(guard.fighting('nf_conntrack_tcp_timeout_time_wait', 30), false, 'other keys are not affected');
  now = T0 + 9 * MIN;
  assert.equal(guard.fighting('nf_conntrack_max', 2097152), false, 'a new desired value is worth trying');
  guard.recordCorrection('nf_conntrack_max', 2097152);
  assert.equal(guard.fighting('nf_conntrack_max', 1048576), false, 'history of the old value is gone');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState, PolicyMode } from '../../src/policy/types.js';
import { MemoryBaselineStore } from '../../src/reconcile/baseline-store.js';
import { CorrectionGuard } from '../../src/reconcile/drift.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { Writable } from 'node:stream';
import { createLogger, type Log } from '../../src/logger.js';
import { readObservedState } from '../../src/kernel/observed-state.js';
import { FakeNotrackBackend } from '../support/fake-notrack.js';
import { conntrackKernel, paths, snapshot, type KernelOptions } from './kernel-fixture.js';
import { fakeHost } from '../support/fake-host.js';

const MIN = 60_000;
const TIME_WAIT = paths.sysctl('nf_conntrack_tcp_timeout_time_wait');
const MAX = paths.sysctl('nf_conntrack_max');

const POLICY: DesiredState = {
  sysctls: { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_established: 600, nf_conntrack_tcp_timeout_time_wait: 30 },
  buckets: 524288,
  notrack: [{ name: 'loopback', interface: 'lo', direction: 'both' }],
  acceptUntracked: false,
};

/** The project's pino logger, its lines collected as "level message". */
function collectingLogger(): { logger: Log; logged: string[] } {
  const logged: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      const line = JSON.parse(String(chunk)) as { level: number; msg: string };
      logged.push(`${line.level >= 50 ? 'error' : line.level >= 40 ? 'warn' : 'info'} ${line.msg}`);
      done();
    },
  });
  return { logger: createLogger('info', 'node-a', sink), logged };
}

function setUp(options: KernelOptions = {}, kubeProxyRunning = false) {
  const kernel = conntrackKernel(options);
  const clock = { now: Date.parse('2026-11-22T04:00:00Z') };
  const host = fakeHost(kernel, paths, { clock: () => clock.now });
  const backend = new FakeNotrackBackend();
  const baselineStore = new MemoryBaselineStore();
  const { logger, logged } = collectingLogger();
  const reconciler = new Reconciler({
    observe: () => readObservedState(host),
    host,
    backend,
    baselineStore,
    logger,
    writerFacts: async () => ({ kubeProxyRunning }),
    guard: new CorrectionGuard({ clock: () => clock.now, maxCorrections: 3, windowMs: 10 * MIN }),
  });
  return { kernel, backend, baselineStore, clock, reconciler, logged, before: snapshot(kernel) };
}

test('reconciler: Enforce applies everything, then a second pass writes nothing', async () => {
  const { kernel, backend, baselineStore, reconciler } = setUp();
  const first = await reconciler.reconcile(POLICY, 'Enforce');
  assert.equal(first.execution?.ok, true);
  assert.equal(first.inSync, true, 'verified by observing again');
  assert.deepEqual(first.drift, [], 'a first apply is not drift');
  assert.equal(first.notrackOwnedRules, 1);
  assert.equal(kernel.value(TIME_WAIT), '30');
  assert.deepEqual(await baselineStore.load(), {
    values: { buckets: 262144, nf_conntrack_max: 262144, nf_conntrack_tcp_timeout_established: 432000, nf_conntrack_tcp_timeout_time_wait: 120 },
    notrackOwned: true,
    notrackApplied: { rules: POLICY.notrack, acceptUntracked: false },
  });
  const writes = kernel.writes.length;
  const backendWrites = backend.writes;
  const second = await reconciler.reconcile(POLICY, 'Enforce');
  assert.deepEqual([second.plan.actions, second.execution, second.inSync], [[], undefined, true]);
  assert.equal(kernel.writes.length, writes, 'no kernel write');
  assert.equal(backend.writes, backendWrites, 'no NOTRACK write');
});

test('reconciler: DryRun plans and reports, writes nothing; what it would change is a plan, not drift', async () => {
  const { kernel, backend, baselineStore, reconciler, logged } = setUp();
  await reconciler.reconcile(POLICY, 'DryRun');
  const result = await reconciler.reconcile(POLICY, 'DryRun');
  assert.deepEqual(
    logged.filter((l) => l.startsWith('warn')),
    [],
    'no drift logged: nothing was applied',
  );
  assert.equal(result.mode, 'DryRun');
  assert.deepEqual(
    result.plan.actions.map((a) => a.key),
    ['buckets', 'nf_conntrack_max', 'nf_conntrack_tcp_timeout_established', 'nf_conntrack_tcp_timeout_time_wait', 'notrack'],
  );
  assert.equal(result.execution, undefined);
  assert.equal(result.inSync, false);
  assert.deepEqual(result.drift, []);
  assert.deepEqual(kernel.writes, []);
  assert.equal(backend.writes, 0);
  assert.deepEqual(await baselineStore.load(), { values: {}, notrackOwned: false });
});

for (const mode of ['Enforce', 'DryRun'] as PolicyMode[]) {
  test(`reconciler: an outside change is ${mode === 'Enforce' ? 'drift, corrected' : 'only planned'} in ${mode}`, async () => {
    const { kernel, reconciler, clock } = setUp({}, true);
    await reconciler.reconcile(POLICY, 'Enforce');
    await kernel.write(MAX, '262144'); // kube-proxy restarting with its own max
    clock.now += MIN;
    const result = await reconciler.reconcile(POLICY, mode);
    const drift = [{ key: 'nf_conntrack_max', desired: 1048576, actual: 262144, since: '2026-11-22T04:01:00.000Z', likelyWriter: 'kube-proxy' }];
    assert.deepEqual(result.drift, mode === 'Enforce' ? drift : []);
    assert.deepEqual(
      result.plan.actions.map((a) => [a.key, a.kind === 'sysctl' ? a.to : null]),
      [['nf_conntrack_max', 1048576]],
    );
    assert.equal(kernel.value(MAX), mode === 'Enforce' ? '1048576' : '262144');
    assert.equal(result.inSync, mode === 'Enforce');
  });
}

test('reconciler: stops fighting a key another writer keeps changing, says so, resumes later', async () => {
  const { kernel, reconciler, clock, logged } = setUp();
  await reconciler.reconcile(POLICY, 'Enforce');
  const fought: boolean[] = [];
  for (let i = 0; i < 4; i++) {
    await kernel.write(TIME_WAIT, '120');
    clock.now += MIN;
    const result = await reconciler.reconcile(POLICY, 'Enforce');
    fought.push(result.drift[0]?.fighting === true);
  }
  assert.deepEqual(fought, [false, false, false, true]);
  assert.equal(kernel.value(TIME_WAIT), '120', 'the fourth pass left it alone');
  assert.ok(logged.includes('warn conntrack settings drifted'));
  clock.now += 10 * MIN;
  const later = await reconciler.reconcile(POLICY, 'Enforce');
  assert.equal(later.drift[0]?.fighting, undefined);
  assert.equal(kernel.value(TIME_WAIT), '30');
});

test('reconciler: a failed apply leaves the kernel as it was and reports the key', async () => {
  const { kernel, backend, reconciler, before, logged } = setUp({ refuse: {} });
  kernel.failWrite(3, 'EINVAL');
  const result = await reconciler.reconcile(POLICY, 'Enforce');
  assert.equal(result.execution?.ok, false);
  assert.equal(result.execution?.failed?.action.key, 'nf_conntrack_tcp_timeout_established');
  assert.match(result.execution!.failed!.error, /the kernel refused the value \(EINVAL\)/);
  assert.equal(result.inSync, false);
  assert.deepEqual(snapshot(kernel), before);
  assert.equal(backend.current, null);
  assert.ok(logged.includes('error apply failed, rolled back'));
});

test('reconciler: keys the node cannot change are reported, the rest applied', async () => {
  const { kernel, reconciler } = setUp({ refuse: { nf_conntrack_max: 'EACCES', nf_conntrack_buckets: 'EACCES', hashsize: 'EROFS' } });
  const result = await reconciler.reconcile(POLICY, 'Enforce');
  assert.equal(result.execution?.ok, true);
  assert.deepEqual(
    result.notApplicable.map((n) => n.key),
    ['buckets', 'nf_conntrack_max'],
  );
  assert.equal(result.inSync, false);
  assert.equal(kernel.value(TIME_WAIT), '30');
});

test('reconciler: a key the policy drops goes back to its baseline and is forgotten', async () => {
  const { kernel, baselineStore, reconciler } = setUp();
  await reconciler.reconcile(POLICY, 'Enforce');
  const { nf_conntrack_tcp_timeout_time_wait: _dropped, ...sysctls } = POLICY.sysctls;
  const result = await reconciler.reconcile({ ...POLICY, sysctls, notrack: [] }, 'Enforce');
  assert.equal(result.execution?.ok, true);
  assert.equal(kernel.value(TIME_WAIT), '120');
  const baseline = await baselineStore.load();
  assert.equal('nf_conntrack_tcp_timeout_time_wait' in baseline.values, false);
  assert.equal(baseline.notrackOwned, false);
});

test('restore: the exact baseline comes back, our chains go, the baseline is cleared', async () => {
  const { kernel, backend, baselineStore, reconciler, before } = setUp();
  await reconciler.reconcile(POLICY, 'Enforce');
  await kernel.write(TIME_WAIT, '45'); // an outside change after ours: restore still puts the baseline back
  const result = await reconciler.restore();
  assert.equal(result.ok, true);
  assert.deepEqual(
    result.plan.actions.map((a) => a.key),
    ['nf_conntrack_max', 'buckets', 'nf_conntrack_tcp_timeout_established', 'nf_conntrack_tcp_timeout_time_wait', 'notrack'],
  );
  assert.deepEqual(snapshot(kernel), before);
  assert.equal(backend.current, null);
  assert.deepEqual(await baselineStore.load(), { values: {}, notrackOwned: false });
  const again = await reconciler.restore();
  assert.deepEqual([again.ok, again.plan.actions, again.execution], [true, [], undefined]);
});

test('restore: a failure rolls back and keeps the baseline for a later try', async () => {
  const { kernel, backend, baselineStore, reconciler } = setUp();
  await reconciler.reconcile(POLICY, 'Enforce');
  const applied = snapshot(kernel);
  const kept = await baselineStore.load();
  backend.failNext('remove');
  const result = await reconciler.restore();
  assert.equal(result.ok, false);
  assert.equal(result.execution?.failed?.action.kind, 'notrack-remove');
  assert.deepEqual(snapshot(kernel), applied);
  assert.deepEqual(backend.current, { rules: POLICY.notrack, acceptUntracked: false });
  assert.deepEqual(await baselineStore.load(), kept);
});

test('reconciler: a policy without NOTRACK never calls the backend (no process spawned)', async () => {
  const { kernel, backend, reconciler } = setUp();
  const sysctlsOnly: DesiredState = { ...POLICY, notrack: [] };
  const first = await reconciler.reconcile(sysctlsOnly, 'Enforce');
  assert.equal(first.inSync, true);
  const writes = kernel.writes.length;
  const second = await reconciler.reconcile(sysctlsOnly, 'Enforce');
  assert.deepEqual([second.inSync, second.plan.actions, kernel.writes.length], [true, [], writes]);
  assert.deepEqual(backend.calls, []);
});

test('restore: the Nth write failing, for every N, leaves the node as it was before the restore', async () => {
  const probe = setUp();
  await probe.reconciler.reconcile(POLICY, 'Enforce');
  const restoreWrites = Object.keys((await probe.baselineStore.load()).values).length;
  for (let n = 1; n <= restoreWrites; n++) {
    const { kernel, backend, baselineStore, reconciler } = setUp();
    await reconciler.reconcile(POLICY, 'Enforce');
    const applied = snapshot(kernel);
    const kept = await baselineStore.load();
    kernel.failWrite(n);
    const result = await reconciler.restore();
    assert.equal(result.ok, false, `write ${n}`);
    assert.deepEqual(snapshot(kernel), applied, `write ${n}`);
    assert.deepEqual(backend.current, { rules: POLICY.notrack, acceptUntracked: false }, `write ${n}: our rules still there`);
    assert.deepEqual(await baselineStore.load(), kept, `write ${n}: baseline kept`);
  }
});

test('reconciler: editing the policy is a change, not drift; an outside write during an edit still is', async () => {
  const { kernel, reconciler } = setUp();
  await reconciler.reconcile(POLICY, 'Enforce');
  const edited: DesiredState = {
    ...POLICY,
    sysctls: { ...POLICY.sysctls, nf_conntrack_tcp_timeout_time_wait: 45 },
    notrack: [...POLICY.notrack, { name: 'dns', protocol: 'udp', ports: [{ from: 53, to: 53 }], direction: 'inbound' }],
  };
  const change = await reconciler.reconcile(edited, 'Enforce');
  assert.deepEqual(change.drift, []);
  assert.equal(kernel.value(TIME_WAIT), '45');

  await kernel.write(paths.sysctl('nf_conntrack_tcp_timeout_established'), '7200');
  const again: DesiredState = { ...edited, sysctls: { ...edited.sysctls, nf_conntrack_tcp_timeout_time_wait: 60 } };
  const both = await reconciler.reconcile(again, 'Enforce');
  assert.deepEqual(
    both.drift.map((d) => [d.key, d.desired, d.actual]),
    [['nf_conntrack_tcp_timeout_established', 600, 7200]],
  );
  assert.equal(kernel.value(TIME_WAIT), '60');
});

test('reconciler: with a key not applicable here (max in a pod namespace), a policy edit is still not drift', async () => {
  const { kernel, reconciler } = setUp({ refuse: { nf_conntrack_max: 'EACCES' } });
  const first = await reconciler.reconcile(POLICY, 'Enforce');
  assert.ok(first.notApplicable.some((n) => n.key === 'nf_conntrack_max'));
  const edited: DesiredState = { ...POLICY, sysctls: { ...POLICY.sysctls, nf_conntrack_tcp_timeout_established: 900 } };
  const second = await reconciler.reconcile(edited, 'Enforce');
  assert.deepEqual(second.drift, []);
  assert.equal(kernel.value(paths.sysctl('nf_conntrack_tcp_timeout_established')), '900');
});

test('reconciler: NOTRACK rules it cannot read (not root) are one key not applicable, the sysctls still apply', async () => {
  const { kernel, backend, reconciler } = setUp();
  backend.check = async () => {
    throw new Error('iptables-nft-save failed with exit code 4: Permission denied (you must be root)');
  };
  const r = await reconciler.reconcile(POLICY, 'Enforce');
  assert.equal(r.execution?.ok, true);
  assert.equal(kernel.value(TIME_WAIT), '30');
  const na = r.notApplicable.find((n) => n.key === 'notrack');
  assert.match(na?.reason ?? '', /cannot read the firewall rules here: .*you must be root/);
});

test('reconciler: a backend that cannot accept untracked packets (nftables) reports it instead of pretending', async () => {
  const { backend, reconciler } = setUp();
  backend.canAcceptUntracked = false;
  const r = await reconciler.reconcile({ ...POLICY, acceptUntracked: true }, 'Enforce');
  assert.equal(r.execution?.ok, true);
  assert.match(r.notApplicable.find((n) => n.key === 'acceptUntracked')?.reason ?? '', /ct state untracked accept/);
  const checked = backend.calls.filter((c) => c.op !== 'remove').map((c) => (c as { desired: { acceptUntracked: boolean } }).desired.acceptUntracked);
  assert.ok(checked.length > 0 && checked.every((a) => a === false), 'the backend is never asked for it');
});

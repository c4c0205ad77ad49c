import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState } from '../../src/policy/types.js';
import { Executor, writeErrorMessage } from '../../src/reconcile/executor.js';
import { emptyBaseline, isValueAction, plan, type Action } from '../../src/reconcile/planner.js';
import { errno } from '../support/fake-kernel.js';
import { readObservedState } from '../../src/kernel/observed-state.js';
import { FakeNotrackBackend } from '../support/fake-notrack.js';
import { conntrackKernel, paths, snapshot } from './kernel-fixture.js';
import { fakeHost } from '../support/fake-host.js';

const FULL: DesiredState = {
  sysctls: {
    nf_conntrack_max: 1048576,
    nf_conntrack_tcp_timeout_established: 600,
    nf_conntrack_tcp_timeout_close_wait: 30,
    nf_conntrack_tcp_timeout_time_wait: 30,
    nf_conntrack_tcp_timeout_fin_wait: 30,
    nf_conntrack_tcp_timeout_syn_sent: 30,
    nf_conntrack_udp_timeout: 10,
    nf_conntrack_udp_timeout_stream: 60,
    nf_conntrack_icmp_timeout: 10,
  },
  buckets: 524288,
  notrack: [{ name: 'loopback', interface: 'lo', direction: 'both' }],
  acceptUntracked: false,
};

/** A kernel and backend at their defaults, and the full plan for them. */
async function setUp(desired: DesiredState = FULL) {
  const kernel = conntrackKernel();
  const backend = new FakeNotrackBackend();
  const check = await backend.check({ rules: desired.notrack, acceptUntracked: desired.acceptUntracked });
  const fullPlan = plan(desired, await readObservedState(fakeHost(kernel, paths)), emptyBaseline(), check);
  return { kernel, backend, actions: fullPlan.actions, executor: new Executor(fakeHost(kernel, paths), backend), before: snapshot(kernel) };
}

test('executor: a full plan applies and reads back', async () => {
  const { kernel, backend, actions, executor } = await setUp();
  const result = await executor.execute(actions);
  assert.deepEqual(result, { ok: true, applied: actions, rolledBack: [], rollbackErrors: [] });
  assert.equal(kernel.value(paths.sysctl('nf_conntrack_max')), '1048576');
  assert.equal(kernel.value(paths.hashsizeParam()), '524288');
  assert.deepEqual(backend.current, { rules: FULL.notrack, acceptUntracked: false });
});

test('executor: the Nth kernel write fails, for every N: the kernel is as before the run', async () => {
  const { actions } = await setUp();
  const writes = actions.filter(isValueAction);
  assert.equal(writes.length, 10);
  for (let n = 1; n <= writes.length; n++) {
    const { kernel, backend, executor, before } = await setUp();
    kernel.failWrite(n);
    const result = await executor.execute(actions);
    const failedKey = writes[n - 1]!.key;
    assert.equal(result.ok, false, `write ${n}`);
    assert.equal(result.failed?.action.key, failedKey, `write ${n}`);
    assert.match(result.failed!.error, new RegExp(`^${failedKey} = \\d+: EIO`));
    assert.deepEqual(
      result.rolledBack.map((a) => a.key),
      writes
        .slice(0, n - 1)
        .map((a) => a.key)
        .reverse(),
    );
    assert.deepEqual(result.rollbackErrors, []);
    assert.deepEqual(snapshot(kernel), before, `write ${n}: kernel state restored`);
    assert.equal(backend.current, null, `write ${n}: no NOTRACK sync`);
    assert.equal(backend.writes, 0);
  }
});

test('executor: a value that reads back different is a failure, and is rolled back too', async () => {
  const { kernel, actions, executor, before } = await setUp();
  // Like a kernel clamping a timeout: the write succeeds, the value read back is not ours.
  kernel.files.get(paths.sysctl('nf_conntrack_udp_timeout'))!.onWrite = (value, k) => {
    if (value === '10') k.files.get(paths.sysctl('nf_conntrack_udp_timeout'))!.content = '15\n';
  };
  const result = await executor.execute(actions);
  assert.equal(result.ok, false);
  assert.equal(result.failed?.error, 'nf_conntrack_udp_timeout = 10: the kernel reads back 15');
  assert.equal(result.rolledBack[0]?.key, 'nf_conntrack_udp_timeout');
  assert.deepEqual(snapshot(kernel), before);
});

for (const partial of [false, true]) {
  test(`executor: NOTRACK sync fails ${partial ? 'half-way' : 'cleanly'} after the sysctl writes: all rolled back`, async () => {
    const { kernel, backend, actions, executor, before } = await setUp();
    backend.failNext('sync', partial);
    const result = await executor.execute(actions);
    assert.equal(result.ok, false);
    assert.equal(result.failed?.action.kind, 'notrack-sync');
    assert.equal(result.rolledBack.length, actions.length);
    assert.deepEqual(snapshot(kernel), before);
    assert.equal(backend.current, null, 'no rules of ours before: removed');
  });
}

test('executor: a failed sync goes back to the rule set we had before', async () => {
  const { backend, actions, executor } = await setUp();
  const previous = { rules: [{ name: 'dns', protocol: 'udp' as const, ports: [{ from: 53, to: 53 }], direction: 'inbound' as const }], acceptUntracked: true };
  backend.current = structuredClone(previous);
  const sync = actions.find((a) => a.kind === 'notrack-sync')!;
  backend.failNext('sync', true);
  const result = await executor.execute([{ ...sync, from: previous }]);
  assert.equal(result.ok, false);
  assert.deepEqual(backend.current, previous);
});

test('executor: rollback that fails is reported, not hidden', async () => {
  const { kernel, actions, executor } = await setUp();
  const timeouts = actions.filter((a): a is Extract<Action, { kind: 'sysctl' }> => a.kind === 'sysctl').slice(1, 3);
  kernel.failWrite(2).failWrite(3, 'EBUSY');
  const result = await executor.execute(timeouts);
  assert.equal(result.ok, false);
  assert.equal(result.failed?.action.key, timeouts[1]!.key);
  assert.deepEqual(result.rolledBack, []);
  assert.equal(result.rollbackErrors[0]?.action.key, timeouts[0]!.key);
  assert.match(result.rollbackErrors[0]!.error, /EBUSY/);
});

test('executor: errors name the key, the value and what the errno means', async () => {
  const cases: Array<[string, string]> = [
    ['EACCES', 'nf_conntrack_max = 1048576: permission denied (read-only in this network namespace, or not root) (EACCES)'],
    ['EPERM', 'nf_conntrack_max = 1048576: permission denied (read-only in this network namespace, or not root) (EPERM)'],
    ['EROFS', 'nf_conntrack_max = 1048576: read-only file system (mount /sys read-write) (EROFS)'],
    ['EINVAL', 'nf_conntrack_max = 1048576: the kernel refused the value (EINVAL)'],
  ];
  for (const [code, message] of cases) {
    assert.equal(writeErrorMessage('nf_conntrack_max', 1048576, errno(code, 'write', '/proc/sys/net/netfilter/nf_conntrack_max')), message);
  }
  const kernel = conntrackKernel();
  const result = await new Executor(fakeHost(kernel, paths), null).execute([{ kind: 'buckets', key: 'buckets', via: 'sysctl', from: 262144, to: 0 }]);
  assert.equal(result.failed?.error, 'buckets = 0: the kernel refused the value (EINVAL)');
});

test('executor: buckets rounded up by the kernel are accepted', async () => {
  const kernel = conntrackKernel();
  const result = await new Executor(fakeHost(kernel, paths), null).execute([{ kind: 'buckets', key: 'buckets', via: 'hashsize', from: 262144, to: 300000 }]);
  assert.equal(result.ok, true, result.failed?.error);
  assert.equal(kernel.value(paths.hashsizeParam()), '300032');
});

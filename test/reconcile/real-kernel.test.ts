// The engine on the real kernel, inside a network namespace this test creates:
// plan, apply with read-back, no-op second pass, drift corrected, a refused
// write rolled back, restore to the exact start. Root only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execInOk, realKernelSkipReason, withNetns } from '../support/netns.js';

const PASS_SCRIPT = fileURLToPath(new URL('./real-kernel-pass.ts', import.meta.url));
const skip = realKernelSkipReason(['ip', 'nft']);

test('reconciler on the real kernel in a network namespace', { skip: skip ?? false, timeout: 60_000 }, async (t) => {
  const out = await withNetns('reconcile', (ns) => execInOk(ns, process.execPath, ['--import', 'tsx', PASS_SCRIPT]));
  const r = JSON.parse(out.trim().split('\n').pop()!);
  if (r.skip) return t.skip(r.skip);
  const wanted = {
    nf_conntrack_tcp_timeout_established: 600,
    nf_conntrack_tcp_timeout_time_wait: 30,
    nf_conntrack_udp_timeout: 10,
    nf_conntrack_icmp_timeout: 5,
  };
  const startTimeouts = Object.fromEntries(Object.keys(wanted).map((k) => [k, r.start[k]]));

  assert.deepEqual(r.afterDryRun, startTimeouts, 'DryRun wrote nothing');
  assert.equal(r.dryRun.plan.actions.length, 4);
  assert.deepEqual(r.apply.notApplicable.map((n: { key: string }) => n.key).sort(), ['buckets', 'nf_conntrack_max']);
  assert.equal(r.apply.execution.ok, true, JSON.stringify(r.apply.execution.failed));
  assert.deepEqual(r.afterApply, wanted);
  assert.deepEqual([r.noop.plan.actions, r.noop.execution], [[], undefined], 'second pass writes nothing');
  assert.deepEqual(
    r.corrected.drift.map((d: { key: string; actual: number }) => [d.key, d.actual]),
    [['nf_conntrack_tcp_timeout_time_wait', 120]],
  );
  assert.deepEqual(r.afterCorrection, wanted);
  assert.equal(r.refused.ok, false);
  assert.match(r.refused.failed.error, /^nf_conntrack_max = \d+: permission denied \(read-only in this network namespace, or not root\) \(EACCES\)$/);
  assert.deepEqual(r.afterRefused, wanted, 'the udp timeout written before the refusal was put back');
  assert.equal(r.restore.ok, true);
  assert.deepEqual(r.end, r.start, 'restore gave back the exact start, global keys untouched');
  t.diagnostic(
    `in-sync reconcile pass (4 timeouts, real files): ${r.noop.durationMs.toFixed(2)} ms; apply with read-back: ${r.apply.durationMs.toFixed(2)} ms`,
  );
});

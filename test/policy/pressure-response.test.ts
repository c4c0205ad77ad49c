import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  evaluatePressureResponse,
  NO_PRESSURE_RESPONSE,
  pressureResponseDue,
  withPressureTimeouts,
  type PressureResponseInputs,
  type PressureResponseState,
} from '../../src/policy/pressure-response.js';
import type { PressureResponseSpec } from '../../src/policy/normalize.js';

const EST = 'nf_conntrack_tcp_timeout_established';
const TW = 'nf_conntrack_tcp_timeout_time_wait';
const UDP = 'nf_conntrack_udp_timeout';
const T0 = 1_700_000_000_000;
const NOW = T0 + 30_000;

const spec: PressureResponseSpec = {
  startPercent: 80,
  stopPercent: 60,
  timeouts: { [EST]: 600, [TW]: 10 },
  fields: { [EST]: 'spec.pressureResponse.timeouts.tcp.establishedSeconds', [TW]: 'spec.pressureResponse.timeouts.tcp.timeWaitSeconds' },
};
const thresholds = { startPercent: 80, stopPercent: 60 };
const inactive: PressureResponseState = { ...NO_PRESSURE_RESPONSE, thresholds, enforced: true };
const active: PressureResponseState = { active: true, sinceMs: T0, thresholds, timeouts: { [EST]: 600, [TW]: 10 }, enforced: true };

function inputs(usagePercent: number | null, over: Partial<PressureResponseInputs> = {}): PressureResponseInputs {
  // The policy sets TIME_WAIT to 30 s; established is the node's own (the kernel default, 5 days).
  return { usagePercent, response: { spec, enforced: true }, policyOwn: { [TW]: 30 }, nodeOwn: { [EST]: 432000, [TW]: 120 }, nowMs: NOW, ...over };
}

describe('pressure response: hysteresis between startPercent and stopPercent', () => {
  const cases: Array<{ name: string; prev: PressureResponseState; usage: number | null; active: boolean; sinceMs: number | null }> = [
    { name: 'inactive, below start: stays off', prev: inactive, usage: 79.9, active: false, sinceMs: null },
    { name: 'inactive, at start: starts now', prev: inactive, usage: 80, active: true, sinceMs: NOW },
    { name: 'inactive, far above start: starts now', prev: inactive, usage: 100, active: true, sinceMs: NOW },
    { name: 'inactive, between the thresholds: stays off', prev: inactive, usage: 70, active: false, sinceMs: null },
    { name: 'active, between the thresholds: stays on, since unchanged', prev: active, usage: 70, active: true, sinceMs: T0 },
    { name: 'active, at stop: stays on', prev: active, usage: 60, active: true, sinceMs: T0 },
    { name: 'active, below stop: ends now', prev: active, usage: 59.9, active: false, sinceMs: NOW },
    { name: 'active, usage unreadable: stays on', prev: active, usage: null, active: true, sinceMs: T0 },
    { name: 'inactive, usage unreadable: stays off', prev: inactive, usage: null, active: false, sinceMs: null },
    { name: 'never evaluated before (first pass) above start', prev: NO_PRESSURE_RESPONSE, usage: 90, active: true, sinceMs: NOW },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const next = evaluatePressureResponse(c.prev, inputs(c.usage));
      assert.equal(next.active, c.active);
      assert.equal(next.sinceMs, c.sinceMs);
      assert.deepEqual(next.thresholds, thresholds);
      // The watch's question agrees with what the pass then decides (it knows the thresholds only after a pass saw them).
      assert.equal(pressureResponseDue(c.prev, c.usage), c.prev.thresholds !== null && c.active !== c.prev.active);
    });
  }

  it('no policy sets a response any more: ends now, and says no thresholds', () => {
    const next = evaluatePressureResponse(active, inputs(95, { response: undefined }));
    assert.deepEqual(next, { active: false, sinceMs: NOW, thresholds: null, timeouts: {}, enforced: false });
    assert.equal(pressureResponseDue(next, 100), false, 'nothing to start without a response');
  });
});

describe('pressure response: which timeouts it puts in place', () => {
  const cases: Array<{ name: string; over: Partial<PressureResponseInputs>; timeouts: Record<string, number> }> = [
    {
      name: "lower than the policy's own (TIME_WAIT 30 -> 10) and than the node's own where the policy sets none (5 days -> 600)",
      over: {},
      timeouts: { [EST]: 600, [TW]: 10 },
    },
    { name: "the policy's own already lower: left as the policy says", over: { policyOwn: { [TW]: 5, [EST]: 300 } }, timeouts: {} },
    { name: "the policy's own equal: not a change", over: { policyOwn: { [TW]: 10 } }, timeouts: { [EST]: 600 } },
    {
      name: "the node's own already lower, no policy value: never raised",
      over: { policyOwn: {}, nodeOwn: { [EST]: 300, [TW]: 120 } },
      timeouts: { [TW]: 10 },
    },
    {
      name: 'a key with no known value (not on this kernel): kept, for the plan to report',
      over: { policyOwn: {}, nodeOwn: {} },
      timeouts: { [EST]: 600, [TW]: 10 },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(evaluatePressureResponse(inactive, inputs(90, c.over)).timeouts, c.timeouts);
    });
  }
  it('none while inactive', () => {
    assert.deepEqual(evaluatePressureResponse(active, inputs(10)).timeouts, {});
  });
});

describe('pressure response: the state a pass reconciles', () => {
  const desired = { sysctls: { [TW]: 30, [UDP]: 20 }, notrack: [], acceptUntracked: false };
  const cases: Array<{ name: string; state: PressureResponseState; mode: 'Enforce' | 'DryRun'; sysctls: Record<string, number> }> = [
    { name: 'active, Enforce: the response in place of the own values', state: active, mode: 'Enforce', sysctls: { [TW]: 10, [UDP]: 20, [EST]: 600 } },
    { name: 'active, DryRun pass: planned the same way', state: { ...active, enforced: false }, mode: 'DryRun', sysctls: { [TW]: 10, [UDP]: 20, [EST]: 600 } },
    {
      name: 'active but its policy is DryRun, Enforce pass: not written',
      state: { ...active, enforced: false },
      mode: 'Enforce',
      sysctls: { [TW]: 30, [UDP]: 20 },
    },
    { name: 'inactive: the own values', state: inactive, mode: 'Enforce', sysctls: { [TW]: 30, [UDP]: 20 } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(withPressureTimeouts(desired, c.state, c.mode).sysctls, c.sysctls);
      assert.deepEqual(desired.sysctls, { [TW]: 30, [UDP]: 20 }, 'the policy state is not changed in place');
    });
  }
});

// Expire sooner under pressure: whether a policy's pressure response is in
// force, with hysteresis between its two thresholds, and which timeouts it
// puts in place of the policy's own. Pure: the agent's pass gathers the usage
// and the values, this decides; the planner and the executor write, and put
// the policy's own values (or the baseline) back when it ends.
//
// The usage is that of the network namespace the agent runs in (the host's,
// with hostNetwork): the only one its timeouts are written in.
import type { PressureResponseSpec } from './normalize.js';
import type { DesiredState, PolicyMode } from './types.js';

interface PressureThresholdsInForce {
  startPercent: number;
  stopPercent: number;
}

/** What one pass hands the next about the response. */
export interface PressureResponseState {
  active: boolean;
  /** When it last started or ended, ms since the epoch; null before it ever did. */
  sinceMs: number | null;
  /** The thresholds of the response at the last pass; null when no policy sets one. */
  thresholds: PressureThresholdsInForce | null;
  /** While active: the timeouts in place of the policy's own (sysctl -> seconds); empty otherwise. */
  timeouts: Record<string, number>;
  /** False when the response is only planned (a DryRun pass, or its policy is DryRun): nothing of it is written. */
  enforced: boolean;
}

export const NO_PRESSURE_RESPONSE: PressureResponseState = { active: false, sinceMs: null, thresholds: null, timeouts: {}, enforced: false };

export interface PressureResponseInputs {
  /** count / max x 100 of the agent's own namespace (timeouts are per namespace: it lowers only ours); null when either could not be read. */
  usagePercent: number | null;
  /** The response of the effective policy, and whether this pass writes it (Enforce, and its policy enforces); undefined when no policy sets one. */
  response?: { spec: PressureResponseSpec; enforced: boolean };
  /** The values the pass would write without the response (the policy's own). */
  policyOwn: Record<string, number>;
  /** The node's own values of the keys the policy does not set: the baseline where we changed them, else what the kernel has now. */
  nodeOwn: Record<string, number>;
  nowMs: number;
}

/**
 * Starts at startPercent, ends only below stopPercent: in between it stays as
 * it was, so the shorter timeouts that bring usage down do not flip it back
 * and forth around one threshold. An unreadable usage changes nothing.
 */
function nextActive(active: boolean, usagePercent: number | null, t: PressureThresholdsInForce): boolean {
  if (usagePercent === null) return active;
  return active ? usagePercent >= t.stopPercent : usagePercent >= t.startPercent;
}

/**
 * Each of the response's timeouts that is lower than what would be there
 * without it: the policy's own value, or for a key the policy does not set
 * the node's own. A response never raises a timeout (a longer one under
 * pressure keeps entries longer). A key with no known value (absent on this
 * kernel) is kept, so the plan reports it as not applicable like any other.
 */
function lowered(spec: PressureResponseSpec, policyOwn: Record<string, number>, nodeOwn: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(spec.timeouts).filter(([key, seconds]) => {
      const own = policyOwn[key] ?? nodeOwn[key];
      return own === undefined || seconds < own;
    }),
  );
}

/** The response after this pass: whether it is in force, since when, and the timeouts it puts in place. */
export function evaluatePressureResponse(prev: PressureResponseState, i: PressureResponseInputs): PressureResponseState {
  const thresholds = i.response ? { startPercent: i.response.spec.startPercent, stopPercent: i.response.spec.stopPercent } : null;
  const active = thresholds !== null && nextActive(prev.active, i.usagePercent, thresholds);
  return {
    active,
    sinceMs: active === prev.active ? prev.sinceMs : i.nowMs,
    thresholds,
    timeouts: active && i.response ? lowered(i.response.spec, i.policyOwn, i.nodeOwn) : {},
    enforced: i.response?.enforced ?? false,
  };
}

/**
 * For the watch between passes: would a pass now start or end the response?
 * Uses the thresholds the last pass saw; false when no policy sets a response.
 */
export function pressureResponseDue(state: PressureResponseState, usagePercent: number | null): boolean {
  return state.thresholds !== null && nextActive(state.active, usagePercent, state.thresholds) !== state.active;
}

/**
 * The state a pass of `mode` reconciles: the response's timeouts in place of
 * the policy's own while it is active. An Enforce pass leaves out a response
 * that is only DryRun (its policy plans it, another enforces the timeouts).
 */
export function withPressureTimeouts(desired: DesiredState, state: PressureResponseState, mode: PolicyMode): DesiredState {
  if (Object.keys(state.timeouts).length === 0 || (mode === 'Enforce' && !state.enforced)) return desired;
  return { ...desired, sysctls: { ...desired.sysctls, ...state.timeouts } };
}

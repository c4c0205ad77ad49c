// The pressure response as the status shows it: the PressureResponse
// condition and status.pressureResponse, from the state the pass decided
// (policy/pressure-response.ts). Pure.
import type { PressureResponseState } from '../policy/pressure-response.js';
import type { ConditionInput } from './conditions.js';
import { NodeReasons, type NodeStatusDoc } from '../api/v1alpha1/status.js';

type Outcome = Pick<ConditionInput, 'status' | 'reason' | 'message'>;

const round1 = (n: number) => Math.round(n * 10) / 10;

function timeoutsText(timeouts: Record<string, number>): string {
  return Object.entries(timeouts)
    .map(([key, seconds]) => `${key}=${seconds}s`)
    .join(', ');
}

/** Active while the shorter timeouts are in force (or would be, in DryRun); Inactive below the thresholds; NotConfigured without a response. */
export function pressureResponseCondition(state: PressureResponseState, usage: number | null): Outcome {
  const t = state.thresholds;
  if (!t) return { status: 'False', reason: NodeReasons.PressureResponse.NotConfigured, message: 'No policy sets spec.pressureResponse.' };
  const now = usage === null ? 'unreadable' : `${round1(usage)}%`;
  const where = "the table of the agent's network namespace";
  if (!state.active) {
    return {
      status: 'False',
      reason: NodeReasons.PressureResponse.Inactive,
      message: `Usage of ${where} is ${now} (the response starts at ${t.startPercent}%): the policy's own timeouts are in force.`,
    };
  }
  const until = `until usage falls below ${t.stopPercent}%`;
  const what =
    Object.keys(state.timeouts).length === 0
      ? `the policy's own timeouts are already at or below the response's, so none is lowered ${until}`
      : state.enforced
        ? `${timeoutsText(state.timeouts)} in place of the policy's own ${until}`
        : `DryRun, nothing is written; the response would put ${timeoutsText(state.timeouts)} in place of the policy's own ${until}`;
  return { status: 'True', reason: NodeReasons.PressureResponse.Active, message: `Usage of ${where} reached ${t.startPercent}% (now ${now}): ${what}.` };
}

/** status.pressureResponse: present while a policy sets a response. */
export function pressureResponseSection(state: PressureResponseState | undefined): Pick<NodeStatusDoc, 'pressureResponse'> {
  if (!state?.thresholds) return {};
  return {
    pressureResponse: {
      active: state.active,
      ...(state.sinceMs === null ? {} : { since: new Date(state.sinceMs).toISOString() }),
      startPercent: state.thresholds.startPercent,
      stopPercent: state.thresholds.stopPercent,
      enforced: state.enforced,
      ...(state.active ? { timeouts: state.timeouts } : {}),
    },
  };
}

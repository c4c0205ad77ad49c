// Which Node events a pass deserves, from the status before and after it.
// Texts are for the on-call engineer who reads `kubectl describe node` at 3 am:
// what happened, on which node, what it means, without the docs.
import type { PassOutcome } from './node-status.js';
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';
import { netnsEventsForPass } from './netns-events.js';
import type { NodeEventIntent } from './event-intent.js';
import { withheldEvents } from './notrack-withheld.js';

const condition = (s: NodeStatusDoc | null, type: string) => s?.conditions.find((c) => c.type === type);

export function eventsForPass(prev: NodeStatusDoc | null, next: NodeStatusDoc, outcome: PassOutcome): NodeEventIntent[] {
  const out: NodeEventIntent[] = [];
  const node = next.nodeName;
  if (outcome.kind === 'reconciled' && outcome.result.execution) {
    const e = outcome.result.execution;
    const names = outcome.effective.selected.join(', ');
    if (e.ok) {
      out.push({ type: 'Normal', reason: 'ConntrackPolicyApplied', message: `Applied ConntrackPolicy ${names}: ${e.applied.map((a) => a.key).join(', ')}.` });
    } else {
      out.push({
        type: 'Warning',
        reason: 'ConntrackPolicyFailed',
        message: `Could not apply ConntrackPolicy ${names} on ${node}: ${e.failed ? `${e.failed.action.key}: ${e.failed.error}` : 'unknown error'}. Every change of this attempt was rolled back; the agent retries each interval.`,
      });
    }
  }
  if (outcome.kind === 'error') {
    out.push({ type: 'Warning', reason: 'ConntrackPolicyFailed', message: `conntrack agent on ${node} failed a pass: ${outcome.message}` });
  }
  if (outcome.kind === 'restored') {
    out.push(
      outcome.result.ok
        ? {
            type: 'Normal',
            reason: 'ConntrackRestored',
            message: `No ConntrackPolicy selects ${node} any more: put back the conntrack settings it had before and removed our NOTRACK rules.`,
          }
        : {
            type: 'Warning',
            reason: 'ConntrackPolicyFailed',
            message: `Restoring the original conntrack settings on ${node} failed: ${outcome.result.execution?.failed?.error ?? 'a key cannot be written here'}; retrying.`,
          },
    );
  }
  const before = new Set((prev?.drift ?? []).map((d) => d.key));
  const fresh = (next.drift ?? []).filter((d) => !before.has(d.key));
  if (fresh.length) {
    out.push({
      type: 'Warning',
      reason: 'ConntrackDriftDetected',
      message: `conntrack settings on ${node} were changed outside the policy: ${fresh
        .map((d) => `${d.key} is ${d.actual}, policy says ${d.desired}${d.likelyWriter && d.likelyWriter !== 'unknown' ? ` (likely ${d.likelyWriter})` : ''}`)
        .join('; ')}.`,
    });
  }
  const pressure = condition(next, 'Pressure');
  const prevPressure = condition(prev, 'Pressure');
  if (pressure?.status === 'True' && (prevPressure?.status !== 'True' || prevPressure.reason !== pressure.reason)) {
    out.push({
      type: 'Warning',
      reason: 'ConntrackTablePressure',
      message: `${pressure.message} Node ${node}: see kubectl describe conntrackstatus ${node} for what fills it.`,
    });
  }
  const full = condition(next, 'TableFull');
  if (full?.status === 'True') {
    out.push({
      type: 'Warning',
      reason: 'ConntrackTableFull',
      message: `Connection tracking table FULL on ${node}: the kernel is dropping packets of new connections (${full.message}) Requests to and from this node time out with nothing in application logs.`,
    });
  }
  const race = condition(next, 'InsertionRace');
  if (race?.status === 'True') {
    out.push({
      type: 'Warning',
      reason: 'ConntrackInsertionRace',
      message: `Insertion races are dropping packets on ${node}, whatever the table's fill: ${race.message} Typically DNS lookups stall for 5 s. A bigger table does not help.`,
    });
  }
  out.push(...netnsEventsForPass(prev, next));
  out.push(...withheldEvents(prev, next));
  return out;
}

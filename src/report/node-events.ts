// Which Node events a pass deserves, from the status before and after it.
// Texts are for the on-call engineer who reads `kubectl describe node` at 3 am:
// what happened, on which node, what it means, without the docs.
import type { PassOutcome } from './node-status.js';
import { givesBack } from '../reconcile/planner.js';
import { NodeConditions, NodeReasons, type NodeConditionTypeName, type NodeStatusDoc } from '../api/v1alpha1/status.js';
import { netnsEventsForPass } from './netns-events.js';
import type { NodeEventIntent } from './event-intent.js';
import { fillingUpEvents } from './filling-events.js';
import { withheldEvents } from './notrack-withheld.js';

const condition = (s: NodeStatusDoc | null, type: NodeConditionTypeName) => s?.conditions.find((c) => c.type === type);

export function eventsForPass(prev: NodeStatusDoc | null, next: NodeStatusDoc, outcome: PassOutcome): NodeEventIntent[] {
  const out: NodeEventIntent[] = [];
  const node = next.nodeName;
  if (outcome.kind === 'reconciled' && outcome.result.execution) {
    const e = outcome.result.execution;
    const names = outcome.effective.selected.join(', ');
    if (e.ok) {
      // A key no Enforce policy asks for any more was put back to the node's own value, not applied.
      const back = e.applied.filter((a) => givesBack(a, outcome.effective.enforced)).map((a) => a.key);
      const applied = e.applied.map((a) => a.key).filter((k) => !back.includes(k));
      const parts = [
        ...(applied.length ? [`applied ${applied.join(', ')}`] : []),
        ...(back.length ? [`gave back ${back.join(', ')} (no Enforce policy asks for them any more)`] : []),
      ];
      out.push({ type: 'Normal', reason: 'ConntrackPolicyApplied', message: `ConntrackPolicy ${names}: ${parts.join('; ')}.` });
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
  const pressure = condition(next, NodeConditions.Pressure);
  const prevPressure = condition(prev, NodeConditions.Pressure);
  // Another namespace under pressure is its own event (netns-events), naming it, when it crosses the threshold.
  const hostFullest = next.table?.fullest?.host !== false;
  if (hostFullest && pressure?.status === 'True' && (prevPressure?.status !== 'True' || prevPressure.reason !== pressure.reason)) {
    out.push({
      type: 'Warning',
      reason: 'ConntrackTablePressure',
      message: `${pressure.message} Node ${node}: see kubectl describe conntrackstatus ${node} for what fills it.`,
    });
  }
  const full = condition(next, NodeConditions.TableFull);
  // Only other namespaces dropping: each is its own event (netns-events), naming it.
  if (full?.status === 'True' && full.reason !== NodeReasons.TableFull.NamespaceDropping) {
    out.push({
      type: 'Warning',
      reason: 'ConntrackTableFull',
      message: `Connection tracking table FULL on ${node}: the kernel is dropping packets of new connections (${full.message}) Requests to and from this node time out with nothing in application logs.`,
    });
  }
  const race = condition(next, NodeConditions.InsertionRace);
  if (race?.status === 'True') {
    out.push({
      type: 'Warning',
      reason: 'ConntrackInsertionRace',
      message: `Insertion races are dropping packets on ${node}, whatever the table's fill: ${race.message} Typically DNS lookups stall for 5 s. A bigger table does not help.`,
    });
  }
  const filling = fillingUpEvents(prev, next);
  if (filling) out.push(filling.node);
  out.push(...pressureResponseEvents(prev, next));
  out.push(...netnsEventsForPass(prev, next));
  out.push(...withheldEvents(prev, next));
  return out;
}

/** When the policy's pressure response starts and when it ends (the PressureResponse condition turning True, then not). */
function pressureResponseEvents(prev: NodeStatusDoc | null, next: NodeStatusDoc): NodeEventIntent[] {
  const now = condition(next, NodeConditions.PressureResponse);
  const before = condition(prev, NodeConditions.PressureResponse);
  if (now?.status === 'True' && before?.status !== 'True') {
    return [
      {
        type: 'Warning',
        reason: 'ConntrackPressureResponseStarted',
        message: `Connection tracking table under pressure on ${next.nodeName}: ${now.message} Idle connections expire sooner while it lasts.`,
      },
    ];
  }
  if (before?.status === 'True' && now?.status !== 'True') {
    return [{ type: 'Normal', reason: 'ConntrackPressureResponseEnded', message: `Pressure response ended on ${next.nodeName}: ${now?.message ?? ''}` }];
  }
  return [];
}

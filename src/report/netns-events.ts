// Events for network namespaces other than the host's: a pod's table that
// fills drops that pod's new connections while the node's own count looks
// fine, so each gets its own event naming the namespace and the pod, on the
// Node and, where the pod's name is known, on the Pod too. Pure.
import type { NodeEventIntent, PodEventIntent } from './event-intent.js';
import type { NetnsRowDoc, NodeStatusDoc } from '../api/v1alpha1/status.js';
import { fillingUpEvents } from './filling-events.js';
import { netnsRowName } from './netns-status.js';

const podText = (r: NetnsRowDoc): string =>
  r.podNamespace && r.podName ? ` (pod ${r.podNamespace}/${r.podName}, UID ${r.podUid})` : r.podUid ? ` (pod UID ${r.podUid})` : '';
const who = (r: NetnsRowDoc): string => `network namespace ${netnsRowName(r)}${podText(r)}`;
const usage = (r: NetnsRowDoc): string =>
  r.entries !== undefined && r.usagePercent !== undefined ? `${r.entries} entries, ${r.usagePercent}% of nf_conntrack_max` : 'count unknown';

/** TableFull for each namespace dropping now (every pass it does, as for the node); Pressure when a namespace first crosses the threshold. */
function netnsEvents(prev: NodeStatusDoc | null, next: NodeStatusDoc): Array<{ row: NetnsRowDoc; intent: NodeEventIntent }> {
  const ns = next.namespaces;
  if (!ns) return [];
  const node = next.nodeName;
  const before = new Set((prev?.namespaces?.pressure ?? []).map(netnsRowName));
  return [
    ...ns.full.map((row) => ({
      row,
      intent: {
        type: 'Warning' as const,
        reason: 'ConntrackTableFull' as const,
        message: `Connection tracking table FULL in ${who(row)} on ${node}: ${row.dropsRising} new connections dropped since the last check (${usage(row)}). Each namespace has its own limit; the node's own count does not show this one.`,
      },
    })),
    ...ns.pressure
      .filter((r) => !before.has(netnsRowName(r)))
      .map((row) => ({
        row,
        intent: {
          type: 'Warning' as const,
          reason: 'ConntrackTablePressure' as const,
          message: `Connection tracking in ${who(row)} on ${node} is filling up: ${usage(row)}. At 100% that namespace drops new connections.`,
        },
      })),
  ];
}

export function netnsEventsForPass(prev: NodeStatusDoc | null, next: NodeStatusDoc): NodeEventIntent[] {
  return netnsEvents(prev, next).map((e) => e.intent);
}

/**
 * The same events for the namespaces of pods known by name, so `kubectl
 * describe pod` shows them (the message names the node), and FillingUp's when
 * the namespace filling up is a pod's.
 */
export function podEventsForPass(prev: NodeStatusDoc | null, next: NodeStatusDoc): PodEventIntent[] {
  const filling = fillingUpEvents(prev, next)?.pod;
  return [
    ...netnsEvents(prev, next).flatMap(({ row, intent }) =>
      row.podUid && row.podNamespace && row.podName ? [{ ...intent, pod: { namespace: row.podNamespace, name: row.podName, uid: row.podUid } }] : [],
    ),
    ...(filling ? [filling] : []),
  ];
}

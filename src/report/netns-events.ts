// Node events for network namespaces other than the host's: a pod's table that
// fills drops that pod's new connections while the node's own count looks
// fine, so each gets its own event naming the namespace and the pod. Pure.
import type { NodeEventIntent } from './node-events.js';
import type { NetnsRowDoc, NodeStatusDoc } from './status-schema.js';

const who = (r: NetnsRowDoc): string => `network namespace ${r.inode}${r.podUid ? ` (pod UID ${r.podUid})` : ''}`;
const usage = (r: NetnsRowDoc): string => (r.entries !== undefined && r.usagePercent !== undefined ? `${r.entries} entries, ${r.usagePercent}% of nf_conntrack_max` : 'count unknown');

/** TableFull for each namespace dropping now (every pass it does, as for the node); Pressure when a namespace first crosses the threshold. */
export function netnsEventsForPass(prev: NodeStatusDoc | null, next: NodeStatusDoc): NodeEventIntent[] {
  const ns = next.namespaces;
  if (!ns) return [];
  const node = next.nodeName;
  const before = new Set((prev?.namespaces?.pressure ?? []).map((r) => r.inode));
  return [
    ...ns.full.map(
      (r): NodeEventIntent => ({
        type: 'Warning',
        reason: 'ConntrackTableFull',
        message: `Connection tracking table FULL in ${who(r)} on ${node}: ${r.dropsRising} new connections dropped since the last check (${usage(r)}). Each namespace has its own limit; the node's own count does not show this one.`,
      }),
    ),
    ...ns.pressure
      .filter((r) => !before.has(r.inode))
      .map(
        (r): NodeEventIntent => ({
          type: 'Warning',
          reason: 'ConntrackTablePressure',
          message: `Connection tracking in ${who(r)} on ${node} is filling up: ${usage(r)}. At 100% that namespace drops new connections.`,
        }),
      ),
  ];
}

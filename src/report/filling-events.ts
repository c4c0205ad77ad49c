// The ConntrackTableFillingUp event: once each time FillingUp turns on, which
// the watch makes happen before the first drop, on the Node and, when the
// namespace filling up is a known pod's, on that Pod too. Pure.
import { NodeConditions, type NodeStatusDoc } from '../api/v1alpha1/status.js';
import type { NodeEventIntent, PodEventIntent } from './event-intent.js';

const fillingUp = (s: NodeStatusDoc | null) => s?.conditions.find((c) => c.type === NodeConditions.FillingUp);

/** The event for the Node, and for the Pod where the forecast namespace is a pod known by name; null unless FillingUp just turned on. */
export function fillingUpEvents(prev: NodeStatusDoc | null, next: NodeStatusDoc): { node: NodeEventIntent; pod: PodEventIntent | null } | null {
  const now = fillingUp(next);
  if (now?.status !== 'True' || fillingUp(prev)?.status === 'True') return null;
  const node: NodeEventIntent = {
    type: 'Warning',
    reason: 'ConntrackTableFillingUp',
    message: `Connection tracking on ${next.nodeName} is filling up. ${now.message}`,
  };
  const ns = next.table?.forecastNamespace;
  const pod = ns?.podUid && ns.podNamespace && ns.podName ? { ...node, pod: { namespace: ns.podNamespace, name: ns.podName, uid: ns.podUid } } : null;
  return { node, pod };
}

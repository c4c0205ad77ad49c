// core/v1 Events: about this node in the "default" namespace, as kubelet's own
// Node events are, so `kubectl describe node` and event exporters see them;
// about a namespaced object (a Pod) in its namespace, as the API requires.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { EventSink, EventTarget, RecordedEvent } from './event-recorder.js';
import type { ClusterApi } from './cluster-api.js';

const EVENT_NAMESPACE = 'default';
const COMPONENT = 'conntrack-operator';

export class KubeEventSink implements EventSink {
  constructor(
    private readonly api: Pick<ClusterApi, 'createEvent' | 'patchEvent'>,
    private readonly host: string,
  ) {}

  async create(e: Omit<RecordedEvent, 'ref'>): Promise<string> {
    // client-go's naming: <object>.<the event's time in hex>, made unique.
    const name = `${e.target.name}.${e.firstTimestamp.getTime().toString(16)}${randomBytes(3).toString('hex')}`;
    const namespace = eventNamespace(e.target);
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: e.target.apiVersion ?? 'v1',
        kind: e.target.kind,
        name: e.target.name,
        ...(e.target.namespace ? { namespace: e.target.namespace } : {}),
        ...(e.target.uid ? { uid: e.target.uid } : {}),
      },
      reason: e.reason,
      message: e.message,
      type: e.type,
      count: e.count,
      firstTimestamp: e.firstTimestamp,
      lastTimestamp: e.lastTimestamp,
      source: { component: COMPONENT, host: this.host },
      reportingComponent: COMPONENT,
      reportingInstance: this.host,
    };
    await this.api.createEvent(namespace, body);
    return name;
  }

  async update(e: RecordedEvent): Promise<void> {
    await this.api.patchEvent(eventNamespace(e.target), e.ref, { count: e.count, lastTimestamp: e.lastTimestamp.toISOString(), message: e.message });
  }
}

/** An Event lives in its object's namespace (kube-apiserver refuses any other); a cluster-scoped object's in "default". */
function eventNamespace(target: EventTarget): string {
  return target.namespace ?? EVENT_NAMESPACE;
}

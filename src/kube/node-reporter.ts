// What the agent sends to the API after each pass: Node events for what
// changed (through the deduping, rate-limiting recorder), the same events on
// the Pod whose network namespace fills, and the ConntrackStatus when it is
// worth a write.
import type { Log } from '../logger.js';
import { EventRecorder } from './event-recorder.js';
import { podEventsForPass } from '../report/netns-events.js';
import { eventsForPass } from '../report/node-events.js';
import type { PassOutcome } from '../report/node-status.js';
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';
import type { ClusterApi } from './cluster-api.js';
import type { NodeRef } from './cluster-policy-source.js';
import { KubeEventSink } from './event-sink.js';
import { StatusPublisher } from './status-publisher.js';
import { errorText } from '../errors.js';
import type { Clock } from '../clock.js';

export type ReporterApi = Pick<ClusterApi, 'getCustom' | 'createCustom' | 'replaceCustomStatus' | 'createEvent' | 'patchEvent'>;

export type Report = (status: NodeStatusDoc, outcome: PassOutcome, previous: NodeStatusDoc | null) => Promise<void>;

export function clusterReporter(api: ReporterApi, nodeName: string, nodeRef: () => NodeRef | null, clock: Clock, logger: Log): Report {
  const publisher = new StatusPublisher(api, nodeName, nodeRef, clock);
  const recorder = new EventRecorder(new KubeEventSink(api, nodeName), clock);
  return async (status, outcome, previous) => {
    const uid = nodeRef()?.uid;
    const target = { kind: 'Node', apiVersion: 'v1', name: nodeName, ...(uid ? { uid } : {}) };
    for (const e of eventsForPass(previous, status, outcome)) {
      await recorder
        .record(target, e.type, e.reason, e.message)
        .catch((err: unknown) => logger.warn({ err: errorText(err), reason: e.reason }, 'could not record a Node event'));
    }
    for (const e of podEventsForPass(previous, status)) {
      const pod = { kind: 'Pod', apiVersion: 'v1', ...e.pod };
      await recorder
        .record(pod, e.type, e.reason, e.message)
        .catch((err: unknown) =>
          logger.warn({ err: errorText(err), reason: e.reason, pod: `${e.pod.namespace}/${e.pod.name}` }, 'could not record a Pod event'),
        );
    }
    const wrote = await publisher.publish(status);
    if (wrote) logger.debug({ reason: wrote }, 'ConntrackStatus written');
  };
}

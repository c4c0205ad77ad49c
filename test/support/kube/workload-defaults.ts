// The defaults apps/v1 DaemonSets and Deployments carry once stored (pkg/apis/apps/v1 and
// core/v1 defaulting of the pod template), and the status a new DaemonSet shows.
import { isObject, type JsonObject } from './schema-walk.js';

type Obj = Record<string, any>;

function fill(obj: Obj, defaults: Obj): void {
  for (const [key, value] of Object.entries(defaults)) obj[key] ??= value;
}

/** An image without a tag, or tagged latest, is pulled Always; any other IfNotPresent. */
function pullPolicy(image: unknown): string {
  const ref = String(image ?? '');
  if (ref.includes('@')) return 'IfNotPresent';
  const tag = /:([^/:]+)$/.exec(ref)?.[1];
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Obj): void {
  fill(c, { resources: {}, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: pullPolicy(c.image) });
  for (const port of Array.isArray(c.ports) ? c.ports : []) if (isObject(port)) port.protocol ??= 'TCP';
}

function defaultPodTemplate(template: Obj): void {
  template.metadata = { creationTimestamp: null, ...(isObject(template.metadata) ? template.metadata : {}) };
  const spec = isObject(template.spec) ? (template.spec as Obj) : (template.spec = {});
  for (const list of [spec.initContainers, spec.containers]) for (const c of Array.isArray(list) ? list : []) if (isObject(c)) defaultContainer(c);
  fill(spec, {
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    dnsPolicy: 'ClusterFirst',
    securityContext: {},
    schedulerName: 'default-scheduler',
  });
}

export function applyWorkloadDefaults(resource: string, obj: JsonObject): void {
  const spec = isObject(obj.spec) ? (obj.spec as Obj) : (obj.spec = {});
  if (isObject(spec.template)) defaultPodTemplate(spec.template);
  if (resource === 'daemonsets') {
    fill(spec, { updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } }, revisionHistoryLimit: 10 });
    obj.status = { currentNumberScheduled: 0, numberMisscheduled: 0, desiredNumberScheduled: 0, numberReady: 0 };
  } else {
    fill(spec, {
      replicas: 1,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    });
    obj.status = {};
  }
}

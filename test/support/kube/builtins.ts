// Per-kind behaviour of the built-in types that kube-apiserver's registry strategies and
// admission plugins add: name rules, generation tracking, defaults and serialised zero
// values (captures 60, 62, 92), Event validation (capture 62).
import type { ResourceInfo } from './resources.js';
import type { NameRule } from './meta-validate.js';
import { isObject, type JsonObject } from './schema-walk.js';
import { fieldErrors, type FieldError } from './status-errors.js';
import { validateWorkload } from './workload-validate.js';

export function nameRuleFor(info: ResourceInfo): NameRule {
  if (info.group === 'rbac.authorization.k8s.io') return 'pathSegment';
  if (info.group === '' && info.resource === 'namespaces') return 'label';
  return 'subdomain';
}

/** Kinds whose strategy maintains metadata.generation. */
export function tracksGeneration(info: ResourceInfo): boolean {
  return info.custom || ['apps', 'apiextensions.k8s.io', 'admissionregistration.k8s.io'].includes(info.group);
}

/** Kinds whose create drops the status the client sent (status is written through /status). */
export function resetsStatusOnCreate(info: ResourceInfo): boolean {
  return info.hasStatus && (info.custom || info.group === 'apps');
}

function setIfAbsent(obj: JsonObject, key: string, value: JsonObject[string]): void {
  if (obj[key] === undefined) obj[key] = value;
}

/** Defaults and zero values the built-in types carry after a create. */
export function applyBuiltinCreateDefaults(info: ResourceInfo, obj: JsonObject): void {
  const key = `${info.group}/${info.resource}`;
  if (key === '/nodes') {
    const spec = (isObject(obj.spec) ? obj.spec : (obj.spec = {})) as JsonObject;
    // The TaintNodesByCondition admission plugin marks new nodes not-ready.
    if (!Array.isArray(spec.taints)) spec.taints = [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }];
    const status = (isObject(obj.status) ? obj.status : (obj.status = {})) as JsonObject;
    setIfAbsent(status, 'daemonEndpoints', { kubeletEndpoint: { Port: 0 } });
    setIfAbsent(status, 'nodeInfo', {
      machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: '', containerRuntimeVersion: '',
      kubeletVersion: '', kubeProxyVersion: '', operatingSystem: '', architecture: '',
    });
  } else if (key === '/namespaces') {
    const meta = obj.metadata as Record<string, any>;
    meta.labels = { ...(meta.labels ?? {}), 'kubernetes.io/metadata.name': meta.name };
    obj.spec = { finalizers: ['kubernetes'], ...(isObject(obj.spec) ? obj.spec : {}) };
    obj.status = { phase: 'Active' };
  } else if (key === '/events') {
    for (const field of ['firstTimestamp', 'lastTimestamp', 'eventTime'] as const) setIfAbsent(obj, field, null);
    setIfAbsent(obj, 'involvedObject', {});
    setIfAbsent(obj, 'source', {});
    setIfAbsent(obj, 'reportingComponent', '');
    setIfAbsent(obj, 'reportingInstance', '');
  } else if (key === 'events.k8s.io/events') {
    setIfAbsent(obj, 'deprecatedSource', {});
    setIfAbsent(obj, 'deprecatedFirstTimestamp', null);
    setIfAbsent(obj, 'deprecatedLastTimestamp', null);
  } else if (key === '/secrets') {
    setIfAbsent(obj, 'type', 'Opaque');
  } else if (info.group === 'apps') {
    obj.status = {};
  }
}

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** pkg/apis/core/validation/events.go for events.k8s.io/v1 creates. */
function validateEventsV1(obj: Record<string, any>): FieldError[] {
  const errors: FieldError[] = [];
  if (!obj.eventTime) errors.push(fieldErrors.required('eventTime'));
  if (obj.type !== 'Normal' && obj.type !== 'Warning') errors.push(fieldErrors.invalid('type', '', `has invalid value: ${obj.type ?? ''}`));
  if (obj.deprecatedFirstTimestamp) errors.push(fieldErrors.invalid('firstTimestamp', '', 'needs to be unset'));
  if (obj.deprecatedLastTimestamp) errors.push(fieldErrors.invalid('lastTimestamp', '', 'needs to be unset'));
  if (!obj.reportingController) errors.push(fieldErrors.required('reportingController'));
  else if (!QUALIFIED_NAME.test(obj.reportingController)) {
    errors.push(fieldErrors.invalid('reportingController', obj.reportingController, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"));
  }
  const limited: [string, number, string][] = [['reportingInstance', 128, 'reportingInstance'], ['action', 128, 'action'], ['reason', 128, 'reason']];
  for (const [field, max] of limited) {
    if (!obj[field]) errors.push(fieldErrors.required(field));
    else if (String(obj[field]).length > max) errors.push(fieldErrors.invalid(field, '', `can have at most ${max} characters`));
  }
  if (typeof obj.note === 'string' && obj.note.length > 1024) errors.push(fieldErrors.invalid('note', '', 'can have at most 1024 characters'));
  return errors;
}

/** A core Event about a namespaced object must live in that object's namespace. */
function validateCoreEvent(obj: Record<string, any>): FieldError[] {
  const involvedNs = obj.involvedObject?.namespace;
  const ns = obj.metadata?.namespace;
  if (involvedNs && ns && involvedNs !== ns) return [fieldErrors.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace')];
  return [];
}

export function validateBuiltin(info: ResourceInfo, obj: JsonObject, isCreate: boolean): FieldError[] {
  const key = `${info.group}/${info.resource}`;
  if (key === 'events.k8s.io/events' && isCreate) return validateEventsV1(obj);
  if (key === '/events') return validateCoreEvent(obj);
  if (key === 'apps/daemonsets' || key === 'apps/deployments') return validateWorkload(obj);
  return [];
}

/** The qualified kind Invalid errors name; events.k8s.io Events validate as core Events (capture 62). */
export function invalidKindOf(info: ResourceInfo): { kind: string; group: string } {
  return { kind: info.kind, group: info.group === 'events.k8s.io' ? '' : info.group };
}

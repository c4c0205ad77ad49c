// Per-kind behaviour of the built-in types that kube-apiserver's registry strategies and
// admission plugins add: name rules, generation tracking, defaults and serialised zero
// values (captures 60, 62, 92), Event validation (capture 62), a Node's pod ranges and a
// ServiceCIDR's ranges (as kube-apiserver 1.32 validates them; see conformance-cidrs).
import type { ResourceInfo } from './resources.js';
import { qualifiedNameProblems, type NameRule } from './meta-validate.js';
import { isObject, type JsonObject } from './schema-walk.js';
import { fieldErrors, type FieldError } from './status-errors.js';
import { applyWorkloadDefaults } from './workload-defaults.js';
import { parseCidr } from '../../../src/policy/cidr.js';
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
  return info.hasStatus && (info.custom || info.group === 'apps' || isKind(info, 'networking.k8s.io', 'servicecidrs'));
}

const isKind = (info: ResourceInfo, group: string, resource: string) => info.group === group && info.resource === resource;

/**
 * v1 <-> internal conversion of a NodeSpec, which every write goes through: podCIDR is
 * authoritative when it disagrees with podCIDRs[0], podCIDRs holds it when empty, and
 * podCIDR reads back as podCIDRs[0].
 */
export function normalizeBuiltin(info: ResourceInfo, obj: JsonObject): void {
  if (!isKind(info, '', 'nodes') || !isObject(obj.spec)) return;
  const spec = obj.spec as Record<string, any>;
  const podCIDRs = Array.isArray(spec.podCIDRs) ? (spec.podCIDRs as string[]) : [];
  if (spec.podCIDR && (podCIDRs.length === 0 || podCIDRs[0] !== spec.podCIDR)) spec.podCIDRs = [spec.podCIDR];
  if (Array.isArray(spec.podCIDRs) && spec.podCIDRs.length > 0) spec.podCIDR = spec.podCIDRs[0];
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
      machineID: '',
      systemUUID: '',
      bootID: '',
      kernelVersion: '',
      osImage: '',
      containerRuntimeVersion: '',
      kubeletVersion: '',
      kubeProxyVersion: '',
      operatingSystem: '',
      architecture: '',
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
  } else if (key === 'apps/daemonsets' || key === 'apps/deployments') {
    applyWorkloadDefaults(info.resource, obj);
  } else if (key === 'networking.k8s.io/servicecidrs') {
    obj.status = {}; // a struct, not a pointer: serialised even when empty
  }
}

/** Go's %#v of a []string, as field errors render whole lists. */
const goStrings = (list: unknown[]) => `[]string{${list.map((v) => JSON.stringify(String(v))).join(', ')}}`;
const ipFamily = (cidr: string) => (cidr.includes(':') ? 6 : 4);
const hasTwoOfAFamily = (cidrs: string[]) => new Set(cidrs.map(ipFamily)).size < cidrs.length;

/** pkg/apis/core/validation ValidateNode / ValidateNodeUpdate for spec.podCIDRs (net.ParseCIDR accepts host bits). */
function validateNodePodCidrs(obj: Record<string, any>, old: Record<string, any> | undefined): FieldError[] {
  const cidrs: string[] = obj.spec?.podCIDRs ?? [];
  const errors = cidrs.flatMap((c, i) =>
    parseCidr(String(c)).ok ? [] : [fieldErrors.invalid(`spec.podCIDRs[${i}]`, c, 'must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)')],
  );
  if (errors.length === 0 && (cidrs.length > 2 || hasTwoOfAFamily(cidrs))) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.podCIDRs',
      message: `Invalid value: ${goStrings(cidrs)}: may specify no more than one CIDR for each IP family`,
    });
  }
  const before: string[] = old?.spec?.podCIDRs ?? [];
  if (old && before.length > 0 && JSON.stringify(before) !== JSON.stringify(cidrs)) {
    errors.push(fieldErrors.forbidden('spec.podCIDRs', 'node updates may not change podCIDR except from "" to valid'));
  }
  return errors;
}

/** Go's netip.ParsePrefix errors for the forms a ServiceCIDR is refused with. */
function prefixProblem(text: string): string | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return `netip.ParsePrefix(${JSON.stringify(text)}): no '/'`;
  const parsed = parseCidr(text);
  if (!parsed.ok) return `netip.ParsePrefix(${JSON.stringify(text)}): ${parsed.reason}`;
  // The address as written against the network address (parseCidr clears host bits).
  const address = parseCidr(`${text.slice(0, slash)}/${parsed.cidr.family === 4 ? 32 : 128}`);
  const exact = address.ok && address.cidr.bytes.every((b, i) => b === parsed.cidr.bytes[i]);
  return exact ? undefined : "wrong CIDR format, IP doesn't match network IP address";
}

/** pkg/apis/networking/validation ValidateServiceCIDR / ValidateServiceCIDRUpdate. */
function validateServiceCidr(obj: Record<string, any>, old: Record<string, any> | undefined): FieldError[] {
  const cidrs: string[] = obj.spec?.cidrs ?? [];
  if (old) {
    const before: string[] = old.spec?.cidrs ?? [];
    return JSON.stringify(before) === JSON.stringify(cidrs)
      ? []
      : [{ type: 'FieldValueInvalid', field: 'spec.cidrs', message: `Invalid value: ${goStrings(cidrs)}: field is immutable` }];
  }
  if (cidrs.length === 0) return [fieldErrors.required('spec.cidrs', 'at least one CIDR required')];
  const spec = `networking.ServiceCIDRSpec{CIDRs:${goStrings(cidrs)}}`;
  if (cidrs.length > 2) return [{ type: 'FieldValueInvalid', field: 'spec.cidrs', message: `Invalid value: ${spec}: may only hold up to 2 values` }];
  const errors = cidrs.flatMap((c, i) => {
    const problem = prefixProblem(String(c));
    return problem ? [fieldErrors.invalid(`spec.cidrs[${i}]`, c, problem)] : [];
  });
  if (errors.length === 0 && hasTwoOfAFamily(cidrs)) {
    const detail = 'may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64';
    errors.push({ type: 'FieldValueInvalid', field: 'spec.cidrs', message: `Invalid value: ${spec}: ${detail}` });
  }
  return errors;
}

/**
 * pkg/apis/core/validation/events.go for events.k8s.io/v1 creates: the checks of a "new"
 * event (reporting fields, lengths) run only when eventTime is set, so an event without
 * eventTime is refused for that alone (plus type and the deprecated fields).
 */
function validateEventsV1(obj: Record<string, any>): FieldError[] {
  const errors: FieldError[] = [];
  if (obj.eventTime) {
    const controller = String(obj.reportingController ?? '');
    if (!controller) errors.push(fieldErrors.required('reportingController'));
    for (const p of qualifiedNameProblems(controller)) errors.push(fieldErrors.invalid('reportingController', controller, p));
    for (const field of ['reportingInstance', 'action', 'reason']) {
      if (!obj[field]) errors.push(fieldErrors.required(field));
      else if (String(obj[field]).length > 128) errors.push(fieldErrors.invalid(field, '', 'can have at most 128 characters'));
    }
    if (typeof obj.note === 'string' && obj.note.length > 1024) errors.push(fieldErrors.invalid('note', '', 'can have at most 1024 characters'));
  } else errors.push(fieldErrors.required('eventTime'));
  if (obj.type !== 'Normal' && obj.type !== 'Warning') errors.push(fieldErrors.invalid('type', '', `has invalid value: ${obj.type ?? ''}`));
  if (obj.deprecatedFirstTimestamp) errors.push(fieldErrors.invalid('firstTimestamp', '', 'needs to be unset'));
  if (obj.deprecatedLastTimestamp) errors.push(fieldErrors.invalid('lastTimestamp', '', 'needs to be unset'));
  return errors;
}

/** A core Event about a namespaced object must live in that object's namespace. */
function validateCoreEvent(obj: Record<string, any>): FieldError[] {
  const involvedNs = obj.involvedObject?.namespace;
  const ns = obj.metadata?.namespace;
  if (involvedNs && ns && involvedNs !== ns) return [fieldErrors.invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace')];
  return [];
}

/** admissionregistration validation of a ValidatingAdmissionPolicy's spec: what it matches, and something to check. */
function validateAdmissionPolicy(obj: Record<string, any>): FieldError[] {
  const spec = obj.spec ?? {};
  const errors: FieldError[] = [];
  if (!isObject(spec.matchConstraints)) errors.push(fieldErrors.required('spec.matchConstraints'));
  if (!spec.validations?.length && !spec.auditAnnotations?.length) {
    const detail = 'validations or auditAnnotations must contain at least one item';
    errors.push(fieldErrors.required('spec.validations', detail), fieldErrors.required('spec.auditAnnotations', detail));
  }
  return errors;
}

export function validateBuiltin(info: ResourceInfo, obj: JsonObject, old: JsonObject | undefined): FieldError[] {
  const key = `${info.group}/${info.resource}`;
  const isCreate = old === undefined;
  if (key === '/nodes') return validateNodePodCidrs(obj, old);
  if (key === 'networking.k8s.io/servicecidrs') return validateServiceCidr(obj, old);
  if (key === 'events.k8s.io/events' && isCreate) return validateEventsV1(obj);
  if (key === '/events') return validateCoreEvent(obj);
  if (key === 'apps/daemonsets' || key === 'apps/deployments') return validateWorkload(obj);
  if (key === 'admissionregistration.k8s.io/validatingadmissionpolicies') return validateAdmissionPolicy(obj);
  return [];
}

/** The qualified kind Invalid errors name; events.k8s.io Events validate as core Events (capture 62). */
export function invalidKindOf(info: ResourceInfo): { kind: string; group: string } {
  return { kind: info.kind, group: info.group === 'events.k8s.io' ? '' : info.group };
}

// The admission path every write goes through before it is stored: decoding checks,
// pruning and defaulting of custom resources, field validation (Strict/Warn/Ignore),
// metadata and schema validation, generation and managedFields bookkeeping.
import type { BuiltinFields } from './builtin-fields.js';
import { applyBuiltinCreateDefaults, invalidKindOf, nameRuleFor, normalizeBuiltin, tracksGeneration, validateBuiltin } from './builtins.js';
import { ownedFields, upsertManagedFields } from './managed-fields.js';
import { validateFinalizerChange, validateObjectMeta } from './meta-validate.js';
import { apiVersionOf, type ResourceInfo } from './resources.js';
import { applyDefaults, pruneObject } from './schema-prune.js';
import { validateCustomResource } from './schema-validate.js';
import { canonicalJson, type JsonObject } from './schema-walk.js';
import { badRequest, fieldErrors, invalid } from './status-errors.js';
import { nowTimestamp } from './wire-format.js';

export interface WriteOptions {
  manager: string;
  operation: 'Apply' | 'Update';
  subresource?: string;
  /** fieldValidation query parameter: Strict refuses unknown fields, Warn reports them. */
  fieldValidation: string;
}

export interface Admitted {
  obj: JsonObject;
  warnings: string[];
}

/** Checks apiVersion/kind of a body against the endpoint it was sent to. */
export function checkTypeMeta(info: ResourceInfo, body: JsonObject): void {
  const expected = apiVersionOf(info);
  if (body.apiVersion !== undefined && body.apiVersion !== expected) {
    throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${expected})`);
  }
  if (body.kind !== undefined && body.kind !== info.kind && info.custom) {
    // A custom resource decodes as unstructured, so the wrong kind is a validation error naming that kind.
    const name = String((body.metadata as Record<string, unknown> | undefined)?.name ?? '');
    throw invalid({ kind: String(body.kind), group: info.group }, name, [fieldErrors.invalid('kind', body.kind, `must be ${info.kind}`)]);
  }
  if (body.kind !== undefined && body.kind !== info.kind) {
    throw badRequest(
      `${String(body.kind)} in version "${info.version}" cannot be handled as a ${info.kind}: the object provided is unrecognized (must be of type ${info.kind})`,
    );
  }
  body.apiVersion = expected;
  body.kind = info.kind;
}

/** metav1.MicroTime fields: the apiserver decodes them with Go's layout and refuses anything else (no 3-digit fractions). */
const MICRO_TIME_FIELDS: Record<string, string[]> = { Lease: ['acquireTime', 'renewTime'] };
const MICRO_TIME_EVENT = ['eventTime'];
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

function checkMicroTimes(info: ResourceInfo, obj: JsonObject): void {
  const fields =
    info.kind === 'Event' && info.group === 'events.k8s.io'
      ? MICRO_TIME_EVENT.map((f) => [obj, f] as const)
      : (MICRO_TIME_FIELDS[info.kind] ?? []).map((f) => [obj.spec as JsonObject | undefined, f] as const);
  for (const [holder, field] of fields) {
    const value = holder?.[field];
    if (typeof value !== 'string' || MICRO_TIME.test(value)) continue;
    const fraction = /(\.\d*)?(Z|[+-]\d{2}:\d{2})$/.exec(value)?.[0] ?? value;
    throw badRequest(
      `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: parsing time "${value}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "${fraction}" as ".000000"`,
    );
  }
}

/** Prunes, defaults and validates; throws 400 (strict decoding) or 422 (Invalid). */
export function admit(info: ResourceInfo, obj: JsonObject, old: JsonObject | undefined, options: WriteOptions, builtins: BuiltinFields): Admitted {
  checkMicroTimes(info, obj);
  const warnings: string[] = [];
  const unknown = info.custom && info.schema ? pruneObject(obj, info.schema) : builtins.prune(info, obj);
  if (unknown.length > 0 && options.fieldValidation === 'Strict') {
    const list = unknown.map((f) => `unknown field "${f}"`).join(', ');
    throw badRequest(`${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: strict decoding error: ${list}`);
  }
  if (options.fieldValidation !== 'Ignore') warnings.push(...unknown.map((f) => `unknown field "${f}"`));
  if (info.custom && info.schema) applyDefaults(obj, info.schema);
  if (!old) applyBuiltinCreateDefaults(info, obj);
  if (!info.custom) normalizeBuiltin(info, obj);
  const errors = [
    ...validateObjectMeta(obj, nameRuleFor(info), info.namespaced),
    ...(old ? validateFinalizerChange(old, obj) : []),
    ...(info.custom && info.schema ? validateCustomResource(obj, info.schema, old) : validateBuiltin(info, obj, old)),
  ];
  const meta = obj.metadata as Record<string, any>;
  if (errors.length > 0) throw invalid(invalidKindOf(info), meta.name ?? '', errors);
  return { obj, warnings };
}

/** What counts as a spec change for generation: all but metadata, and status when it is a subresource. */
function specPart(obj: JsonObject, statusIsSubresource: boolean): string {
  const { metadata: _m, ...rest } = obj;
  if (statusIsSubresource) delete rest.status;
  return canonicalJson(rest);
}

function comparable(obj: JsonObject): string {
  const meta = { ...(obj.metadata as Record<string, unknown>) };
  delete meta.managedFields;
  delete meta.resourceVersion;
  return canonicalJson({ ...obj, metadata: meta });
}

/** True when an update changes nothing, so no new resourceVersion is issued (capture 43). */
export function isNoop(old: JsonObject, updated: JsonObject): boolean {
  return comparable(old) === comparable(updated);
}

export function bumpGeneration(info: ResourceInfo, old: JsonObject, updated: JsonObject): void {
  if (!tracksGeneration(info)) return;
  const meta = updated.metadata as Record<string, any>;
  const oldGen = Number((old.metadata as Record<string, any>).generation ?? 1);
  meta.generation = specPart(old, info.hasStatus) !== specPart(updated, info.hasStatus) ? oldGen + 1 : oldGen;
}

export function recordManager(info: ResourceInfo, obj: JsonObject, source: JsonObject, options: WriteOptions): void {
  const part = options.subresource === 'status' ? 'status' : 'main';
  const dot = options.operation === 'Update';
  upsertManagedFields(obj, {
    manager: options.manager,
    operation: options.operation,
    apiVersion: apiVersionOf(info),
    time: nowTimestamp(),
    fieldsType: 'FieldsV1',
    fieldsV1: ownedFields(source, part, dot),
    ...(options.subresource ? { subresource: options.subresource } : {}),
  });
}

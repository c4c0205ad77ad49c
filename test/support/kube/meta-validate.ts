// ObjectMeta validation with kube-apiserver's messages: names (RFC 1123 subdomain or label,
// generateName as a prefix, capture 62), label values, owner references, finalizers.
import { isObject, type JsonObject } from './schema-walk.js';
import { fieldErrors, type FieldError } from './status-errors.js';

const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const LABEL_VALUE_MSG =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const QUALIFIED_NAME_PART_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/** apimachinery's IsQualifiedName: an optional DNS subdomain prefix and '/', then a name part of at most 63 characters. */
export function qualifiedNameProblems(value: string): string[] {
  const parts = value.split('/');
  if (parts.length > 2) return [`a qualified name ${QUALIFIED_NAME_PART_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  const problems: string[] = [];
  const name = parts.at(-1)!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') problems.push('prefix part must be non-empty');
    else problems.push(...nameProblems(prefix, 'subdomain', false).map((p) => `prefix part ${p}`));
  }
  if (name === '') problems.push('name part must be non-empty');
  else if (name.length > 63) problems.push('name part must be no more than 63 characters');
  if (!QUALIFIED_NAME_PART.test(name)) problems.push(`name part ${QUALIFIED_NAME_PART_MSG}`);
  return problems;
}

export type NameRule = 'subdomain' | 'label' | 'pathSegment';

/** Problems with a name; as a generateName prefix a trailing '-' is allowed (maskTrailingDash). */
function nameProblems(name: string, rule: NameRule, prefix: boolean): string[] {
  if (rule === 'pathSegment') {
    if (name === '.' || name === '..') return [`may not be '${name}'`];
    if (/[/%]/.test(name)) return [`may not contain '${name.includes('/') ? '/' : '%'}'`];
    return [];
  }
  const checked = prefix && name.length > 1 && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
  const problems: string[] = [];
  const max = rule === 'label' ? 63 : 253;
  if (checked.length > max) problems.push(`must be no more than ${max} characters`);
  if (!(rule === 'label' ? LABEL : SUBDOMAIN).test(checked)) problems.push(rule === 'label' ? LABEL_MSG : SUBDOMAIN_MSG);
  return problems;
}

export function validateObjectMeta(obj: JsonObject, rule: NameRule, namespaced: boolean): FieldError[] {
  const meta = (isObject(obj.metadata) ? obj.metadata : {}) as Record<string, any>;
  const errors: FieldError[] = [];
  if (typeof meta.generateName === 'string' && meta.generateName !== '') {
    for (const p of nameProblems(meta.generateName, rule, true)) errors.push(fieldErrors.invalid('metadata.generateName', meta.generateName, p));
  }
  if (!meta.name) errors.push(fieldErrors.required('metadata.name', 'name or generateName is required'));
  else for (const p of nameProblems(meta.name, rule, false)) errors.push(fieldErrors.invalid('metadata.name', meta.name, p));
  if (!namespaced && meta.namespace) errors.push(fieldErrors.forbidden('metadata.namespace', 'not allowed on this type'));
  for (const [key, value] of Object.entries((meta.labels ?? {}) as Record<string, unknown>)) {
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      errors.push(
        fieldErrors.invalid('metadata.labels', value, value !== null && String(value).length > 63 ? 'must be no more than 63 characters' : LABEL_VALUE_MSG),
      );
    }
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key)) {
      errors.push(
        fieldErrors.invalid(
          'metadata.labels',
          key,
          "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        ),
      );
    }
  }
  errors.push(...validateOwnerReferences(meta.ownerReferences));
  return errors;
}

function validateOwnerReferences(refs: unknown): FieldError[] {
  if (refs === undefined || refs === null) return [];
  if (!Array.isArray(refs)) return [fieldErrors.typeInvalid('metadata.ownerReferences', refs, 'must be a list')];
  const errors: FieldError[] = [];
  const controllers: string[] = [];
  for (const ref of refs as Record<string, unknown>[]) {
    if (!ref.apiVersion) errors.push(fieldErrors.invalid('metadata.ownerReferences.apiVersion', ref.apiVersion ?? '', 'version must not be empty'));
    if (!ref.kind) errors.push(fieldErrors.invalid('metadata.ownerReferences.kind', ref.kind ?? '', 'kind must not be empty'));
    if (!ref.name) errors.push(fieldErrors.invalid('metadata.ownerReferences.name', ref.name ?? '', 'name must not be empty'));
    if (!ref.uid) errors.push(fieldErrors.invalid('metadata.ownerReferences.uid', ref.uid ?? '', 'uid must not be empty'));
    if (ref.controller === true) controllers.push(`${String(ref.kind)}/${String(ref.name)}`);
  }
  if (controllers.length > 1) {
    errors.push(
      fieldErrors.invalid(
        'metadata.ownerReferences',
        refs,
        `Only one reference can have Controller set to true. Found "true" in references for ${controllers.join(' and ')}`,
      ),
    );
  }
  return errors;
}

/** A finalizer may not be added once deletion started. */
export function validateFinalizerChange(oldObj: JsonObject, newObj: JsonObject): FieldError[] {
  const oldMeta = oldObj.metadata as Record<string, any>;
  if (!oldMeta.deletionTimestamp) return [];
  const before = new Set<string>(oldMeta.finalizers ?? []);
  const added = ((newObj.metadata as Record<string, any>).finalizers ?? []).filter((f: string) => !before.has(f));
  if (added.length === 0) return [];
  return [
    fieldErrors.forbidden(
      'metadata.finalizers',
      `no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f: string) => JSON.stringify(f)).join(', ')}}`,
    ),
  ];
}

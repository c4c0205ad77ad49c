// Validation of custom resources against their structural schema, with the field error
// formats of kube-apiserver (captures 22, 23): OpenAPI checks first, then CEL rules unless
// a "blocking" error made the object unfit for them.
import { evaluateRule, toCel, usesOldSelf } from './cel.js';
import type { JsonSchema, ValidationRule } from './schema-types.js';
import { childPath, indexPath, isIntOrString, isObject, jsonType, propertySchema, type Json } from './schema-walk.js';
import { fieldErrors, type FieldError } from './status-errors.js';

const BLOCKING = new Set(['FieldValueNotSupported', 'FieldValueRequired', 'FieldValueTooLong', 'FieldValueTooMany', 'FieldValueTypeInvalid']);

/** Validates the object (root schema) and, when possible, its CEL rules against old. */
export function validateCustomResource(obj: Json, schema: JsonSchema, old: Json | undefined): FieldError[] {
  const errors: FieldError[] = [];
  validateNode(obj, schema, '', errors);
  if (!hasRules(schema)) return errors;
  if (errors.some((e) => BLOCKING.has(e.type))) {
    errors.push(
      fieldErrors.invalid(
        '<nil>',
        null,
        'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation',
      ),
    );
    return errors;
  }
  runRules(obj, old, schema, '', errors);
  return errors;
}

function hasRules(schema: JsonSchema): boolean {
  if (schema['x-kubernetes-validations']?.length) return true;
  const children = [
    ...Object.values(schema.properties ?? {}),
    schema.items,
    typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined,
  ];
  return children.some((c) => c !== undefined && hasRules(c));
}

function validateNode(value: Json, schema: JsonSchema, path: string, errors: FieldError[]): void {
  if (value === null) {
    if (!schema.nullable && (schema.type || isIntOrString(schema))) errors.push(typeError(path, value, schema));
    return;
  }
  if (!typeMatches(value, schema)) {
    errors.push(typeError(path, value, schema));
    return;
  }
  if (schema.enum && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(fieldErrors.notSupported(path, value, schema.enum));
  }
  if (typeof value === 'number') validateNumber(value, schema, path, errors);
  if (typeof value === 'string') validateString(value, schema, path, errors);
  if (Array.isArray(value)) validateArray(value, schema, path, errors);
  if (isObject(value)) validateObject(value, schema, path, errors);
}

function typeMatches(value: Json, schema: JsonSchema): boolean {
  const actual = jsonType(value);
  if (isIntOrString(schema)) return actual === 'integer' || actual === 'string';
  if (!schema.type) return true;
  return schema.type === actual || (schema.type === 'number' && actual === 'integer');
}

function typeError(path: string, value: Json, schema: JsonSchema): FieldError {
  const actual = jsonType(value);
  const expected = isIntOrString(schema) ? 'integer,string' : (schema.type ?? '');
  return fieldErrors.typeInvalid(path, actual, `${path || 'body'} in body must be of type ${expected}: "${actual}"`);
}

function validateNumber(value: number, s: JsonSchema, path: string, errors: FieldError[]): void {
  if (s.minimum !== undefined && (s.exclusiveMinimum ? value <= s.minimum : value < s.minimum)) {
    const rel = s.exclusiveMinimum ? 'greater than' : 'greater than or equal to';
    errors.push(fieldErrors.invalid(path, value, `${path} in body should be ${rel} ${s.minimum}`));
  }
  if (s.maximum !== undefined && (s.exclusiveMaximum ? value >= s.maximum : value > s.maximum)) {
    const rel = s.exclusiveMaximum ? 'less than' : 'less than or equal to';
    errors.push(fieldErrors.invalid(path, value, `${path} in body should be ${rel} ${s.maximum}`));
  }
}

function validateString(value: string, s: JsonSchema, path: string, errors: FieldError[]): void {
  const length = [...value].length;
  if (s.maxLength !== undefined && length > s.maxLength) errors.push(fieldErrors.tooLong(path, s.maxLength));
  if (s.minLength !== undefined && length < s.minLength) {
    errors.push(fieldErrors.invalid(path, value, `${path} in body should be at least ${s.minLength} chars long`));
  }
  if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(value)) {
    errors.push(fieldErrors.invalid(path, value, `${path} in body should match '${s.pattern}'`));
  }
}

function validateArray(value: Json[], s: JsonSchema, path: string, errors: FieldError[]): void {
  if (s.maxItems !== undefined && value.length > s.maxItems) errors.push(fieldErrors.tooMany(path, value.length, s.maxItems));
  if (s.minItems !== undefined && value.length < s.minItems) {
    errors.push(fieldErrors.invalid(path, value.length, `${path} in body should have at least ${s.minItems} items`));
  }
  if (s.items) value.forEach((item, i) => validateNode(item, s.items as JsonSchema, indexPath(path, i), errors));
  validateListType(value, s, path, errors);
}

/** x-kubernetes-list-type set/map: no duplicate elements or keys. */
function validateListType(value: Json[], s: JsonSchema, path: string, errors: FieldError[]): void {
  const listType = s['x-kubernetes-list-type'];
  if (listType !== 'set' && listType !== 'map') return;
  const keys = s['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const identity = listType === 'map' && isObject(item) ? JSON.stringify(keys.map((k) => item[k] ?? null)) : JSON.stringify(item);
    if (seen.has(identity)) {
      const shown = listType === 'map' && isObject(item) ? Object.fromEntries(keys.map((k) => [k, item[k] ?? null])) : item;
      errors.push(fieldErrors.duplicate(indexPath(path, i), shown));
    }
    seen.add(identity);
  });
}

function validateObject(value: Record<string, Json>, s: JsonSchema, path: string, errors: FieldError[]): void {
  for (const key of s.required ?? []) {
    if (value[key] === undefined) errors.push(fieldErrors.required(childPath(path, key)));
  }
  if (s.maxProperties !== undefined && Object.keys(value).length > s.maxProperties) {
    errors.push(fieldErrors.tooMany(path, Object.keys(value).length, s.maxProperties));
  }
  for (const [key, child] of Object.entries(value)) {
    if (path === '' && (key === 'metadata' || key === 'apiVersion' || key === 'kind')) continue;
    const childSchema = propertySchema(s, key);
    if (childSchema && child !== undefined) validateNode(child, childSchema, childPath(path, key), errors);
  }
}

function runRules(value: Json | undefined, old: Json | undefined, schema: JsonSchema, path: string, errors: FieldError[]): void {
  if (value === undefined || value === null) return;
  for (const rule of schema['x-kubernetes-validations'] ?? []) checkRule(rule, value, old, schema, path, errors);
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    value.forEach((item, i) => runRules(item, correlatedItem(item, old, schema), items, indexPath(path, i), errors));
  } else if (isObject(value)) {
    for (const [key, child] of Object.entries(value)) {
      if (path === '' && key === 'metadata') continue;
      const childSchema = propertySchema(schema, key);
      const oldChild = isObject(old) ? old[key] : undefined;
      if (childSchema) runRules(child, oldChild, childSchema, childPath(path, key), errors);
    }
  }
}

/** Old values correlate through objects and map-type lists only, as in the apiserver. */
function correlatedItem(item: Json, old: Json | undefined, schema: JsonSchema): Json | undefined {
  if (schema['x-kubernetes-list-type'] !== 'map' || !Array.isArray(old) || !isObject(item)) return undefined;
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  return old.find((o) => isObject(o) && keys.every((k) => JSON.stringify(o[k]) === JSON.stringify(item[k])));
}

function checkRule(rule: ValidationRule, value: Json, old: Json | undefined, schema: JsonSchema, path: string, errors: FieldError[]): void {
  const transition = usesOldSelf(rule);
  if (transition && old === undefined && !rule.optionalOldSelf) return;
  const outcome = evaluateRule(rule, toCel(value, schema), transition ? toCel(old, schema) : undefined);
  if (outcome.ok) return;
  const field = rule.fieldPath ? rule.fieldPath.replace(/^\./, '').split('.').reduce(childPath, path) : path;
  const shown = schema.type ?? '';
  if ('evalError' in outcome) {
    errors.push(fieldErrors.invalid(field, shown, `${outcome.evalError} evaluating rule: ${rule.rule}`));
    return;
  }
  errors.push(ruleError(rule.reason, field, shown, outcome.message));
}

function ruleError(reason: string | undefined, field: string, shown: string, message: string): FieldError {
  switch (reason) {
    case 'FieldValueForbidden':
      return fieldErrors.forbidden(field, message);
    case 'FieldValueRequired':
      return fieldErrors.required(field, message);
    case 'FieldValueDuplicate':
      return fieldErrors.duplicate(field, shown);
    default:
      return fieldErrors.invalid(field, shown, message);
  }
}

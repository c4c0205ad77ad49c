// Pruning and defaulting of custom resources, in the order kube-apiserver applies them
// (decode -> prune -> default). Unknown fields are returned so the caller can warn or,
// under fieldValidation=Strict, refuse.
import type { JsonSchema } from './schema-types.js';
import { childPath, clone, indexPath, isObject, type Json } from './schema-walk.js';
import { OBJECT_META_FIELDS } from './wire-format.js';

/** Everything else in metadata is dropped. */
const KEPT_META = new Set(OBJECT_META_FIELDS);

/** Removes fields the schema does not declare; returns the removed paths. */
export function pruneObject(obj: Record<string, Json>, schema: JsonSchema): string[] {
  const unknown: string[] = [];
  for (const key of Object.keys(obj)) {
    if (key === 'apiVersion' || key === 'kind') continue;
    if (key === 'metadata') {
      pruneMetadata(obj, unknown);
      continue;
    }
    const child = schema.properties?.[key];
    if (!child) {
      if (!schema['x-kubernetes-preserve-unknown-fields']) {
        unknown.push(key);
        delete obj[key];
      }
      continue;
    }
    obj[key] = pruneValue(obj[key] as Json, child, key, unknown);
  }
  return unknown;
}

function pruneMetadata(obj: Record<string, Json>, unknown: string[]): void {
  const meta = obj.metadata;
  if (!isObject(meta)) return;
  for (const key of Object.keys(meta)) {
    if (!KEPT_META.has(key)) {
      unknown.push(`metadata.${key}`);
      delete meta[key];
    }
  }
}

function pruneValue(value: Json, schema: JsonSchema, path: string, unknown: string[]): Json {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((v, i) => pruneValue(v, items, indexPath(path, i), unknown)) : value;
  }
  if (!isObject(value)) return value;
  if (schema['x-kubernetes-embedded-resource']) pruneMetadata(value, unknown);
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const key of Object.keys(value)) {
    if (schema['x-kubernetes-embedded-resource'] && ['apiVersion', 'kind', 'metadata'].includes(key)) continue;
    const child = schema.properties?.[key] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
    if (child) {
      value[key] = pruneValue(value[key] as Json, child, childPath(path, key), unknown);
    } else if (!preserve && schema.additionalProperties !== true) {
      unknown.push(childPath(path, key));
      delete value[key];
    }
  }
  return value;
}

/** Fills in schema defaults for absent (or null, non-nullable) properties, recursively. */
export function applyDefaults(value: Json, schema: JsonSchema): Json {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? value.map((v) => applyDefaults(v, items)) : value;
  }
  if (!isObject(value)) return value;
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const current = value[key];
    const missing = current === undefined || (current === null && !child.nullable);
    if (missing && child.default !== undefined) value[key] = clone(child.default as Json);
    if (value[key] !== undefined) value[key] = applyDefaults(value[key] as Json, child);
  }
  if (typeof schema.additionalProperties === 'object') {
    const extra = schema.additionalProperties;
    for (const key of Object.keys(value)) {
      if (!schema.properties?.[key]) value[key] = applyDefaults(value[key] as Json, extra);
    }
  }
  return value;
}

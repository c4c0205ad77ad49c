// Helpers shared by pruning, defaulting and validation of structural schemas.
import type { JsonSchema } from './schema-types.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Field paths as kube-apiserver prints them: `spec.ports[1].name`. */
export function childPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function indexPath(path: string, index: number): string {
  return `${path}[${index}]`;
}

/** The JSON type of a value in OpenAPI terms ("integer" for whole numbers). */
export function jsonType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  return 'object';
}

export function isIntOrString(schema: JsonSchema): boolean {
  return schema['x-kubernetes-int-or-string'] === true;
}

/** The schema for an object's property, from properties or additionalProperties. */
export function propertySchema(schema: JsonSchema, key: string): JsonSchema | undefined {
  const fromProps = schema.properties?.[key];
  if (fromProps) return fromProps;
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
}

/** JSON with object keys sorted at every level, for order-insensitive comparison. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

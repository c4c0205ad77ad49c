// How objects look on the wire: custom resources as sorted-key unstructured JSON, built-ins
// in Go struct field order (kind, apiVersion, metadata first), timestamps in RFC 3339 seconds.
import type { ResourceInfo } from './resources.js';
import { isObject, type Json, type JsonObject } from './schema-walk.js';

/** The ObjectMeta fields kube-apiserver keeps, in Go's struct order (which is also the order on the wire). */
export const OBJECT_META_FIELDS = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];

export function nowTimestamp(now = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!isObject(value)) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys(value[k] as Json)]),
  );
}

export function orderedMeta(meta: JsonObject): JsonObject {
  const known = OBJECT_META_FIELDS.filter((k) => meta[k] !== undefined).map((k) => [k, meta[k] as Json] as const);
  const rest = Object.entries(meta).filter(([k]) => !OBJECT_META_FIELDS.includes(k));
  return Object.fromEntries([...known, ...rest]);
}

export function toWire(info: ResourceInfo, obj: JsonObject): JsonObject {
  if (info.custom) return sortKeys(obj) as JsonObject;
  const { kind, apiVersion, metadata, ...rest } = obj;
  return { kind: kind as Json, apiVersion: apiVersion as Json, metadata: orderedMeta((metadata ?? {}) as JsonObject), ...rest };
}

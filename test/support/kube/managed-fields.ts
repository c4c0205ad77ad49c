// Simplified metadata.managedFields: one entry per (manager, operation, subresource) whose
// FieldsV1 lists the map fields the manager wrote. Lists are owned as a whole (no k:/v:
// entries), which is enough for server-side apply to drop fields a manager stops applying.
import { isObject, type Json, type JsonObject } from './schema-walk.js';

export type FieldSet = { [key: string]: FieldSet };

/** FieldsV1 of a value: `f:<key>` per map field; with `dot`, "." marks each owned map. */
export function fieldsOf(value: Json, dot: boolean): FieldSet {
  if (!isObject(value)) return {};
  const set: FieldSet = dot ? { '.': {} } : {};
  for (const [key, child] of Object.entries(value)) set[`f:${key}`] = fieldsOf(child, dot);
  return set;
}

/** The fields of an object a write touches: metadata labels/annotations/finalizers and the body. */
export function ownedFields(obj: JsonObject, part: 'main' | 'status', dot: boolean): FieldSet {
  const set: FieldSet = {};
  if (part === 'status') {
    if (obj.status !== undefined) set['f:status'] = fieldsOf(obj.status, dot);
    return set;
  }
  const meta = (obj.metadata ?? {}) as Record<string, Json>;
  const metaSet: FieldSet = {};
  for (const key of ['labels', 'annotations', 'finalizers', 'ownerReferences']) {
    if (meta[key] !== undefined) metaSet[`f:${key}`] = fieldsOf(meta[key] as Json, dot);
  }
  if (Object.keys(metaSet).length > 0) set['f:metadata'] = metaSet;
  for (const [key, value] of Object.entries(obj)) {
    if (['apiVersion', 'kind', 'metadata', 'status'].includes(key)) continue;
    set[`f:${key}`] = fieldsOf(value, dot);
  }
  return set;
}

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: FieldSet;
  subresource?: string;
}

/** A manager that owns no field has no entry, and an object nobody manages a field of has no managedFields (a Node created with a name only). */
export function upsertManagedFields(obj: JsonObject, entry: ManagedFieldsEntry): void {
  const meta = obj.metadata as Record<string, Json>;
  const current = (Array.isArray(meta.managedFields) ? meta.managedFields : []) as unknown as ManagedFieldsEntry[];
  const others = current.filter(
    (e) => !(e.manager === entry.manager && e.operation === entry.operation && (e.subresource ?? '') === (entry.subresource ?? '')),
  );
  const { subresource, ...rest } = entry;
  const entries = Object.keys(entry.fieldsV1).length > 0 ? [...others, subresource ? { ...rest, subresource } : rest] : others;
  if (entries.length > 0) meta.managedFields = entries as unknown as Json;
  else delete meta.managedFields;
}

export function appliedFieldsOf(obj: JsonObject, manager: string): FieldSet | undefined {
  const entries = ((obj.metadata as Record<string, Json>).managedFields ?? []) as unknown as ManagedFieldsEntry[];
  return entries.find((e) => e.manager === manager && e.operation === 'Apply')?.fieldsV1;
}

/** Removes from live the map fields present in before but absent in after (SSA field removal). */
export function removeDroppedFields(live: JsonObject, before: FieldSet, after: FieldSet): void {
  for (const [key, sub] of Object.entries(before)) {
    if (!key.startsWith('f:')) continue;
    const field = key.slice(2);
    if (!(key in after)) {
      delete live[field];
    } else if (isObject(live[field])) {
      removeDroppedFields(live[field] as JsonObject, sub, after[key]!);
    }
  }
}

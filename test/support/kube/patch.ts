// The patch formats the project, kubectl and helm send: JSON merge patch (RFC 7386) and
// strategic merge patch for built-in types (list merge by key). JSON patch (RFC 6902) is
// left to the real server (conformance-crud runs it there).
import { clone, isObject, type Json, type JsonObject } from './schema-walk.js';

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] as Json, value);
  }
  return result;
}

/**
 * patchMergeKey of the built-in list fields we use (k8s.io/api struct tags), by field name and,
 * where a name is ambiguous, by parent path. Lists not listed here are replaced atomically.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  'spec.ports': 'port',
  ports: 'containerPort',
  addresses: 'type',
};
/** Primitive lists with patchStrategy merge (union). */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

function mergeKeyFor(path: string[]): string | undefined {
  const last = path[path.length - 1] ?? '';
  const parentQualified = path.slice(-2).join('.');
  return path.length === 2 && parentQualified === 'spec.ports' ? MERGE_KEYS['spec.ports'] : MERGE_KEYS[last];
}

/** Strategic merge patch for built-in kinds, including the directives kubectl apply emits. */
export function strategicMergePatch(target: Json, patch: Json, path: string[] = []): Json {
  if (!isObject(patch)) return clone(patch);
  if (patch.$patch === 'replace') {
    const { $patch: _ignored, ...rest } = patch;
    return clone(rest);
  }
  if (patch.$patch === 'delete') return null;
  const result: JsonObject = isObject(target) ? { ...target } : {};
  const retainKeys = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  const elementOrder = (field: string) => patch[`${ORDER}${field}`] as Json[] | undefined;
  for (const [key, value] of Object.entries(patch)) {
    if (key === '$retainKeys' || key === '$patch') continue;
    if (key.startsWith(ORDER)) {
      // An order without the list itself still reorders the live list.
      const field = key.slice(ORDER.length);
      if (!(field in patch) && Array.isArray(result[field])) result[field] = mergeList(result[field], [], [...path, field], value as Json[]);
      continue;
    }
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((value as Json[]).map((v) => JSON.stringify(v)));
      const current = Array.isArray(result[field]) ? (result[field] as Json[]) : [];
      result[field] = current.filter((v) => !drop.has(JSON.stringify(v)));
      continue;
    }
    const childPath = [...path, key];
    if (value === null) delete result[key];
    else if (Array.isArray(value)) result[key] = mergeList(result[key], value, childPath, elementOrder(key));
    else if (isObject(value)) {
      const merged = strategicMergePatch(result[key] as Json, value, childPath);
      if (merged === null) delete result[key];
      else result[key] = merged;
    } else result[key] = value;
  }
  if (retainKeys) for (const key of Object.keys(result)) if (!retainKeys.includes(key)) delete result[key];
  return result;
}

const ORDER = '$setElementOrder/';

/**
 * Merges a list as apimachinery's strategicpatch does: live items updated in place, new ones
 * added, then ordered: the patch's items in the patch's (or $setElementOrder's) order, with
 * the live-only items slotted in where the live order puts them (normalizeElementOrder).
 */
function mergeList(current: Json | undefined, patch: Json[], path: string[], order: Json[] | undefined): Json {
  const field = path[path.length - 1] ?? '';
  const existing = Array.isArray(current) ? current : [];
  const primitive = MERGED_PRIMITIVE_LISTS.has(field);
  const key = mergeKeyFor(path);
  if (!primitive && !key) return clone(patch);
  if (patch.some((p) => isObject(p) && p.$patch === 'replace')) return clone(patch.filter((p) => !(isObject(p) && p.$patch === 'replace')));
  const id = (v: Json) => JSON.stringify(primitive ? v : isObject(v) ? v[key!] : undefined);
  const merged = existing.map((e) => clone(e));
  for (const item of patch) {
    const index = merged.findIndex((e) => id(e) === id(item));
    if (primitive) {
      if (index < 0) merged.push(item);
    } else if (!isObject(item)) continue;
    else if (item.$patch === 'delete') {
      if (index >= 0) merged.splice(index, 1);
    } else if (index >= 0) merged[index] = strategicMergePatch(merged[index]!, item, path);
    else merged.push(strategicMergePatch({}, item, path));
  }
  const indexIn = (list: Json[], v: Json) => list.findIndex((x) => id(x) === id(v));
  const patchOrder = order ?? patch;
  const fromPatch = merged.filter((v) => indexIn(patchOrder, v) >= 0).sort((a, b) => indexIn(patchOrder, a) - indexIn(patchOrder, b));
  const serverOnly = merged.filter((v) => indexIn(patchOrder, v) < 0);
  return mergeSorted(serverOnly, fromPatch, (v) => indexIn(existing, v));
}

/** mergeSortedSlice: interleaves two ordered lists, a live-only item first only when the live list puts it before the patch item. */
function mergeSorted(serverOnly: Json[], fromPatch: Json[], liveIndex: (v: Json) => number): Json[] {
  const out: Json[] = [];
  let i = 0;
  let j = 0;
  while (i < serverOnly.length || j < fromPatch.length) {
    const takeServer =
      j >= fromPatch.length || (i < serverOnly.length && liveIndex(fromPatch[j]!) >= 0 && liveIndex(serverOnly[i]!) < liveIndex(fromPatch[j]!));
    out.push(takeServer ? serverOnly[i++]! : fromPatch[j++]!);
  }
  return out;
}

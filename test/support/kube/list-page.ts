// List responses: limit/continue paging (continue tokens expire with the history, 410),
// remainingItemCount, and the list shapes of custom resources (items keep kind, an empty
// continue is written) and built-ins (items lose kind/apiVersion) (captures 31, 93).
import { apiVersionOf, type ResourceInfo } from './resources.js';
import type { JsonObject } from './schema-walk.js';
import { metaOf, type ObjectStore } from './store.js';
import { badRequest, resourceExpired } from './status-errors.js';
import { toWire } from './wire-format.js';

const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

function objectKey(obj: JsonObject): string {
  const meta = metaOf(obj);
  return `${meta.namespace ?? ''}/${meta.name}`;
}

function encodeContinue(rv: number, after: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start: after })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; after: string } {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { rv: number; start: string };
    if (typeof parsed.rv !== 'number' || typeof parsed.start !== 'string') throw new Error('bad token');
    return { rv: parsed.rv, after: parsed.start };
  } catch {
    throw badRequest(`continue key is not valid: ${token}`);
  }
}

/** One page of the (already filtered, ordered) objects as the list body. */
export function listPage(info: ResourceInfo, all: JsonObject[], query: URLSearchParams, store: ObjectStore): Record<string, unknown> {
  const limit = Number(query.get('limit') ?? 0);
  const token = query.get('continue');
  let start = 0;
  let listRv = store.currentRv();
  if (token) {
    const parsed = decodeContinue(token);
    if (store.isTooOld(parsed.rv)) throw resourceExpired(CONTINUE_EXPIRED);
    listRv = parsed.rv;
    start = all.findIndex((o) => objectKey(o) > parsed.after);
    if (start < 0) start = all.length;
  }
  const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
  const remaining = all.length - start - page.length;
  const metadata: Record<string, unknown> = info.custom ? { continue: '', resourceVersion: String(listRv) } : { resourceVersion: String(listRv) };
  if (remaining > 0) {
    metadata.continue = encodeContinue(listRv, objectKey(page[page.length - 1]!));
    if (!query.get('labelSelector') && !query.get('fieldSelector')) metadata.remainingItemCount = remaining;
  }
  const items = page.map((o) => {
    const wire = toWire(info, o);
    if (info.custom) return wire;
    const { kind: _k, apiVersion: _a, ...rest } = wire;
    return rest;
  });
  return info.custom
    ? { apiVersion: apiVersionOf(info), items, kind: info.listKind, metadata }
    : { kind: info.listKind, apiVersion: apiVersionOf(info), metadata, items };
}

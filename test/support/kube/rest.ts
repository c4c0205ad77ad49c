// The resource verbs (create, get, list, update, patch, delete, deletecollection) over the
// store, with kube-apiserver's semantics: conflicts, status subresource, generation,
// finalizers and deletionTimestamp, no-op writes, limit/continue.
import { randomUUID } from 'node:crypto';
import { load as loadYaml } from 'js-yaml';
import type { BuiltinFields } from './builtin-fields.js';
import { resetsStatusOnCreate, tracksGeneration } from './builtins.js';
import { defaultCrd, establishedStatus, initialStatus, validateCrd } from './crd-lifecycle.js';
import { appliedFieldsOf, ownedFields, removeDroppedFields } from './managed-fields.js';
import { listPage } from './list-page.js';
import { mergePatch, strategicMergePatch } from './patch.js';
import type { ResourceRegistry } from './registry.js';
import { apiVersionOf, type ResourceInfo } from './resources.js';
import { clone, isObject, type Json, type JsonObject } from './schema-walk.js';
import { selectorsOf } from './selectors.js';
import { grKey, metaOf, type ObjectStore } from './store.js';
import {
  alreadyExists,
  ApiError,
  badRequest,
  conflict,
  methodNotAllowed,
  namespaceTerminating,
  notFound,
  STALE_OBJECT,
  statusBody,
  unsupportedMediaType,
} from './status-errors.js';
import { admit, bumpGeneration, checkTypeMeta, isNoop, recordManager, type WriteOptions } from './write-path.js';
import { nowTimestamp, toWire } from './wire-format.js';

export interface ResourceRequest {
  info: ResourceInfo;
  /** '' for cluster-scoped resources and for lists across all namespaces. */
  namespace: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  /** fieldManager, or the user agent's program name as kube-apiserver derives it. */
  manager: string;
  /** Warning headers to send with the response, whatever its status. */
  warnings: string[];
}

export interface Reply {
  status: number;
  body: unknown;
}

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const CRD_GR = grKey('apiextensions.k8s.io', 'customresourcedefinitions');
const NAMESPACES_GR = grKey('', 'namespaces');
// No JSON patch: nothing the project runs sends it, and the real server's conformance run covers it.
const PATCH_TYPES = ['application/merge-patch+json', 'application/apply-patch+yaml'];

function generatedName(prefix: string): string {
  let suffix = '';
  for (let i = 0; i < 5; i += 1) suffix += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return prefix + suffix;
}

function gr(info: ResourceInfo) {
  return { group: info.group, resource: info.resource };
}

export class ResourceApi {
  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    private readonly builtins: BuiltinFields,
  ) {}

  private options(req: ResourceRequest, operation: 'Apply' | 'Update'): WriteOptions {
    return {
      manager: req.manager,
      operation,
      fieldValidation: req.query.get('fieldValidation') ?? 'Warn',
      ...(req.subresource ? { subresource: req.subresource } : {}),
    };
  }

  private dryRun(req: ResourceRequest): boolean {
    return req.query.getAll('dryRun').includes('All');
  }

  private existing(req: ResourceRequest): JsonObject {
    const found = this.store.get(grKey(req.info.group, req.info.resource), req.namespace, req.name ?? '');
    if (!found) throw notFound(gr(req.info), req.name ?? '');
    return found;
  }

  private checkSubresource(req: ResourceRequest): void {
    if (req.subresource && !(req.subresource === 'status' && req.info.hasStatus)) {
      throw new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource'));
    }
  }

  get(req: ResourceRequest): Reply {
    this.checkSubresource(req);
    return { status: 200, body: toWire(req.info, this.existing(req)) };
  }

  /** The objects a list or deletecollection selects: namespace, labelSelector, fieldSelector. */
  select(req: ResourceRequest): JsonObject[] {
    const matches = selectorsOf(req.query, req.info);
    const ns = req.info.namespaced && req.namespace ? req.namespace : undefined;
    return this.store.list(grKey(req.info.group, req.info.resource), ns).filter(matches);
  }

  list(req: ResourceRequest): Reply {
    return { status: 200, body: listPage(req.info, this.select(req), req.query, this.store) };
  }

  create(req: ResourceRequest, body: Json): Reply {
    return this.createWith(req, body, 'Update');
  }

  private createWith(req: ResourceRequest, body: Json, operation: 'Apply' | 'Update', source?: JsonObject): Reply {
    if (req.subresource) throw methodNotAllowed();
    if (!isObject(body)) throw badRequest("Object 'Kind' is missing in the request body");
    const { info } = req;
    checkTypeMeta(info, body);
    const meta = (isObject(body.metadata) ? body.metadata : (body.metadata = {})) as Record<string, any>;
    if (info.namespaced) {
      if (meta.namespace && meta.namespace !== req.namespace)
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = req.namespace;
      const namespace = this.store.get(NAMESPACES_GR, '', req.namespace);
      if (!namespace) throw notFound({ group: '', resource: 'namespaces' }, req.namespace);
      if (metaOf(namespace).deletionTimestamp) throw namespaceTerminating(info, String(meta.name ?? meta.generateName ?? ''), req.namespace);
    }
    if (!meta.name && meta.generateName) meta.name = generatedName(String(meta.generateName));
    if (meta.resourceVersion) throw badRequest('resourceVersion should not be set on objects to be created');
    for (const field of ['uid', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'creationTimestamp', 'managedFields']) delete meta[field];
    if (resetsStatusOnCreate(info)) delete body.status;
    const isCrd = grKey(info.group, info.resource) === CRD_GR;
    if (isCrd) validateCrd(body);
    const { obj, warnings } = admit(info, body, undefined, this.options(req, operation), this.builtins);
    req.warnings.push(...warnings);
    if (this.store.get(grKey(info.group, info.resource), req.namespace, meta.name)) throw alreadyExists(gr(info), meta.name);
    if (isCrd) {
      defaultCrd(obj);
      obj.status = initialStatus(obj);
    }
    return { status: 201, body: toWire(info, this.insert(req, obj, operation, source ?? obj)) };
  }

  private insert(req: ResourceRequest, obj: JsonObject, operation: 'Apply' | 'Update' = 'Update', source: JsonObject = obj): JsonObject {
    const meta = obj.metadata as Record<string, any>;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp();
    if (tracksGeneration(req.info)) meta.generation = 1;
    recordManager(req.info, obj, source, this.options(req, operation));
    if (this.dryRun(req)) return obj;
    meta.resourceVersion = String(this.store.nextRv());
    this.store.put(grKey(req.info.group, req.info.resource), obj, 'ADDED');
    if (grKey(req.info.group, req.info.resource) === CRD_GR) this.establishSoon(String(meta.name));
    return obj;
  }

  /** As kube-apiserver's controllers do, a new CRD is Established, and only then served, a moment after it is stored. */
  private establishSoon(name: string): void {
    setTimeout(() => {
      const current = this.store.get(CRD_GR, '', name);
      if (!current || metaOf(current).deletionTimestamp) return;
      const established = clone(current);
      established.status = establishedStatus(established);
      metaOf(established).resourceVersion = String(this.store.nextRv());
      this.store.put(CRD_GR, established, 'MODIFIED', current);
      this.registry.registerCrd(established);
    }, 0).unref();
  }

  update(req: ResourceRequest, body: Json): Reply {
    this.checkSubresource(req);
    if (!isObject(body)) throw badRequest("Object 'Kind' is missing in the request body");
    const { info } = req;
    checkTypeMeta(info, body);
    const meta = (isObject(body.metadata) ? body.metadata : (body.metadata = {})) as Record<string, any>;
    if (meta.name !== undefined && meta.name !== req.name) {
      throw badRequest(`the name of the object (${String(meta.name)}) does not match the name on the URL (${String(req.name)})`);
    }
    const old = this.existing(req);
    if (!meta.resourceVersion && info.custom) {
      throw new ApiError(
        statusBody(
          422,
          'Invalid',
          `${info.kind}.${info.group} "${req.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`,
          {
            name: req.name,
            group: info.group,
            kind: info.kind,
            causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: 0x0: must be specified for an update', field: 'metadata.resourceVersion' }],
          },
        ),
      );
    }
    return this.write(req, old, body, 'Update');
  }

  /** The shared tail of update, patch and apply: precondition, subresource split, admission, store. */
  private write(req: ResourceRequest, old: JsonObject, incoming: JsonObject, operation: 'Apply' | 'Update', source: JsonObject = incoming): Reply {
    const { info } = req;
    const oldMeta = metaOf(old);
    const incomingMeta = metaOf(incoming);
    if (incomingMeta.resourceVersion && incomingMeta.resourceVersion !== oldMeta.resourceVersion) {
      throw conflict(gr(info), req.name ?? '', STALE_OBJECT);
    }
    const updated = this.splitBySubresource(req, old, incoming);
    const meta = metaOf(updated);
    for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'managedFields', 'name', 'namespace']) {
      if (oldMeta[field] === undefined) delete meta[field];
      else meta[field] = oldMeta[field];
    }
    meta.resourceVersion = oldMeta.resourceVersion;
    const { obj, warnings } = admit(info, updated, old, this.options(req, operation), this.builtins);
    req.warnings.push(...warnings);
    bumpGeneration(info, old, obj);
    recordManager(info, obj, source, this.options(req, operation));
    if (isNoop(old, obj) || this.dryRun(req)) return { status: 200, body: toWire(info, isNoop(old, obj) ? old : obj) };
    const key = grKey(info.group, info.resource);
    if (meta.deletionTimestamp && (meta.finalizers ?? []).length === 0) {
      delete meta.finalizers;
      this.removeObject(info, obj);
      return { status: 200, body: toWire(info, obj) };
    }
    meta.resourceVersion = String(this.store.nextRv());
    this.store.put(key, obj, 'MODIFIED', old);
    if (key === CRD_GR) this.registry.registerCrd(obj);
    return { status: 200, body: toWire(info, obj) };
  }

  /** With a status subresource, the main resource ignores status and /status ignores the rest. */
  private splitBySubresource(req: ResourceRequest, old: JsonObject, incoming: JsonObject): JsonObject {
    if (!req.info.hasStatus) return clone(incoming);
    if (req.subresource === 'status') {
      const next = clone(old);
      if (incoming.status === undefined) delete next.status;
      else next.status = clone(incoming.status);
      return next;
    }
    const next = clone(incoming);
    if (old.status === undefined) delete next.status;
    else next.status = clone(old.status);
    return next;
  }

  patch(req: ResourceRequest, raw: string, contentType: string): Reply {
    this.checkSubresource(req);
    const type = contentType.split(';')[0]!.trim();
    const accepted = req.info.custom ? PATCH_TYPES : [...PATCH_TYPES, 'application/strategic-merge-patch+json'];
    if (!accepted.includes(type)) throw unsupportedMediaType(type, accepted);
    if (type === 'application/apply-patch+yaml') return this.apply(req, raw);
    const current = this.existing(req);
    const patchBody = parseJson(raw);
    let patched: Json;
    if (type === 'application/merge-patch+json') patched = mergePatch(clone(current), patchBody);
    else patched = strategicMergePatch(clone(current), patchBody);
    if (!isObject(patched)) throw badRequest('the patch produced a document that is not an object');
    // A resourceVersion in the patch itself is a precondition; otherwise the patch applies to the latest object.
    const patchRv = isObject(patchBody) && isObject(patchBody.metadata) ? patchBody.metadata.resourceVersion : undefined;
    metaOf(patched).resourceVersion = patchRv ?? metaOf(current).resourceVersion;
    checkTypeMeta(req.info, patched);
    return this.write(req, current, patched, 'Update', isObject(patchBody) ? patchBody : patched);
  }

  /** Server-side apply, simplified: merge the applied config, drop fields this manager stopped applying. */
  private apply(req: ResourceRequest, raw: string): Reply {
    let applied: unknown;
    try {
      applied = loadYaml(raw);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
    if (!isObject(applied)) throw badRequest('apply patch must be an object');
    if (!req.query.get('fieldManager')) throw badRequest('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    checkTypeMeta(req.info, applied);
    const metaApplied = metaOf(applied);
    if (metaApplied.name !== undefined && metaApplied.name !== req.name) {
      throw badRequest(`the name of the object (${String(metaApplied.name)}) does not match the name on the URL (${String(req.name)})`);
    }
    const current = this.store.get(grKey(req.info.group, req.info.resource), req.namespace, req.name ?? '');
    if (!current) return this.createWith(req, { ...clone(applied), metadata: { ...clone(metaApplied), name: req.name as string } }, 'Apply', applied);
    const live = clone(current);
    const before = appliedFieldsOf(current, req.manager);
    if (before) removeDroppedFields(live, before, ownedFields(applied, req.subresource === 'status' ? 'status' : 'main', false));
    const merged = applyMerge(live, applied) as JsonObject;
    metaOf(merged).resourceVersion = metaApplied.resourceVersion ?? metaOf(current).resourceVersion;
    return this.write(req, current, merged, 'Apply', applied);
  }

  delete(req: ResourceRequest, body: Json): Reply {
    if (req.subresource) throw methodNotAllowed();
    const current = this.existing(req);
    const options = isObject(body) ? body : {};
    const pre = isObject(options.preconditions) ? options.preconditions : {};
    const meta = metaOf(current);
    // rest.BeforeDelete names the object by Kind, not resource: "ConfigMap", "Gadget.wire.example".
    const byKind = { group: req.info.group, resource: req.info.kind };
    if (pre.uid && pre.uid !== meta.uid) {
      throw conflict(
        byKind,
        req.name ?? '',
        `the UID in the precondition (${String(pre.uid)}) does not match the UID in record (${meta.uid}). The object might have been deleted and then recreated`,
      );
    }
    if (pre.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
      throw conflict(
        byKind,
        req.name ?? '',
        `the ResourceVersion in the precondition (${String(pre.resourceVersion)}) does not match the ResourceVersion in record (${meta.resourceVersion}). The object might have been modified`,
      );
    }
    return this.deleteObject(req, current, String(options.propagationPolicy ?? ''));
  }

  private deleteObject(req: ResourceRequest, current: JsonObject, propagation: string): Reply {
    const { info } = req;
    const meta = metaOf(current);
    const finalizers: string[] = [...(meta.finalizers ?? [])];
    // Orphan/Foreground are carried out by the garbage collector, which only marks the object here.
    const gcFinalizer = propagation === 'Foreground' ? 'foregroundDeletion' : propagation === 'Orphan' ? 'orphan' : undefined;
    if (gcFinalizer && !finalizers.includes(gcFinalizer)) finalizers.push(gcFinalizer);
    if (info.group === '' && info.resource === 'namespaces') finalizers.push('kubernetes');
    if (finalizers.length === 0) {
      if (this.dryRun(req)) return { status: 200, body: this.deletedReply(info, current) };
      const deleted = clone(current);
      this.removeObject(info, deleted);
      return { status: 200, body: this.deletedReply(info, deleted) };
    }
    if (meta.deletionTimestamp) return { status: 200, body: toWire(info, current) };
    const terminating = clone(current);
    const tmeta = metaOf(terminating);
    tmeta.deletionTimestamp = nowTimestamp();
    tmeta.deletionGracePeriodSeconds = 0;
    if (gcFinalizer) tmeta.finalizers = [...(tmeta.finalizers ?? []), gcFinalizer].filter((f, i, a) => a.indexOf(f) === i);
    if (tmeta.generation !== undefined) tmeta.generation = Number(tmeta.generation) + 1;
    if (info.group === '' && info.resource === 'namespaces') terminating.status = { phase: 'Terminating' };
    if (this.dryRun(req)) return { status: 200, body: toWire(info, terminating) };
    tmeta.resourceVersion = String(this.store.nextRv());
    this.store.put(grKey(info.group, info.resource), terminating, 'MODIFIED', current);
    return { status: 200, body: toWire(info, terminating) };
  }

  /** Custom resources and most built-ins answer a completed delete with a Success Status. */
  private deletedReply(info: ResourceInfo, deleted: JsonObject): unknown {
    if (!info.custom && ['pods', 'services'].includes(info.resource)) return toWire(info, deleted);
    const meta = metaOf(deleted);
    const details: Record<string, unknown> = { name: meta.name };
    if (info.group) details.group = info.group;
    details.kind = info.resource;
    details.uid = meta.uid;
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
  }

  private removeObject(info: ResourceInfo, obj: JsonObject): void {
    const key = grKey(info.group, info.resource);
    metaOf(obj).resourceVersion = String(this.store.nextRv());
    this.store.remove(key, obj);
    if (key === CRD_GR) this.retireCrd(obj);
  }

  /** Deleting a CRD deletes its custom resources (the apiextensions finalizer's job) and stops serving it. */
  private retireCrd(crd: JsonObject): void {
    const spec = crd.spec as Record<string, any>;
    const crGr = grKey(spec.group, spec.names.plural);
    for (const obj of this.store.list(crGr)) {
      const gone = clone(obj);
      metaOf(gone).resourceVersion = String(this.store.nextRv());
      this.store.remove(crGr, gone);
    }
    this.registry.unregisterCrd(metaOf(crd).name);
  }

  deleteCollection(req: ResourceRequest, body: Json): Reply {
    const options = isObject(body) ? body : {};
    const items = this.select(req).map((obj) => {
      const reply = this.deleteObject({ ...req, name: metaOf(obj).name, namespace: metaOf(obj).namespace ?? '' }, obj, String(options.propagationPolicy ?? ''));
      return reply.body;
    });
    return {
      status: 200,
      body: { kind: req.info.listKind, apiVersion: apiVersionOf(req.info), metadata: { resourceVersion: String(this.store.currentRv()) }, items },
    };
  }
}

function parseJson(raw: string): Json {
  try {
    return JSON.parse(raw) as Json;
  } catch (err) {
    throw badRequest(`error decoding patch: ${(err as Error).message}`);
  }
}

/** Merges an applied configuration into the live object: maps recursively, lists replaced. */
function applyMerge(live: Json, applied: Json): Json {
  if (!isObject(applied) || !isObject(live)) return clone(applied);
  const out: JsonObject = { ...live };
  for (const [key, value] of Object.entries(applied)) out[key] = applyMerge(out[key] as Json, value);
  return out;
}

// OpenAPI v3 as kubectl reads it (captures 90, 91, 97): an index of group/version documents
// with content hashes, and per group/version documents whose paths declare the
// fieldValidation parameter (kubectl then validates on the server) and whose component
// schemas carry x-kubernetes-group-version-kind (kubectl explain, apply).
import { createHash } from 'node:crypto';
import type { ResourceRegistry } from './registry.js';
import type { ResourceInfo } from './resources.js';
import type { JsonSchema } from './schema-types.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const ref = (name: string) => ({ allOf: [{ $ref: `#/components/schemas/${META}.${name}` }] });

const string = (description: string) => ({ type: 'string', description });

/** The metadata schemas a CRD document references, trimmed to the fields kubectl shows. */
const META_SCHEMAS: Record<string, unknown> = {
  [`${META}.ObjectMeta`]: {
    description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
    type: 'object',
    properties: {
      annotations: {
        type: 'object',
        additionalProperties: { type: 'string', default: '' },
        description:
          'Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.',
      },
      creationTimestamp: { ...ref('Time'), description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
      deletionGracePeriodSeconds: {
        type: 'integer',
        format: 'int64',
        description: 'Number of seconds allowed for this object to gracefully terminate before it will be removed from the system.',
      },
      deletionTimestamp: { ...ref('Time'), description: 'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.' },
      finalizers: {
        type: 'array',
        items: { type: 'string', default: '' },
        'x-kubernetes-list-type': 'set',
        'x-kubernetes-patch-strategy': 'merge',
        description: 'Must be empty before the object is deleted from the registry.',
      },
      generateName: string('GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.'),
      generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state.' },
      labels: {
        type: 'object',
        additionalProperties: { type: 'string', default: '' },
        description: 'Map of string keys and values that can be used to organize and categorize (scope and select) objects.',
      },
      managedFields: {
        type: 'array',
        items: { default: {}, ...ref('ManagedFieldsEntry') },
        description: 'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.',
      },
      name: string('Name must be unique within a namespace.'),
      namespace: string('Namespace defines the space within which each name must be unique.'),
      ownerReferences: {
        type: 'array',
        items: { default: {}, ...ref('OwnerReference') },
        'x-kubernetes-list-map-keys': ['uid'],
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-patch-merge-key': 'uid',
        'x-kubernetes-patch-strategy': 'merge',
        description: 'List of objects depended by this object.',
      },
      resourceVersion: string('An opaque value that represents the internal version of this object.'),
      selfLink: string('Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.'),
      uid: string('UID is the unique in time and space value for this object.'),
    },
  },
  [`${META}.ListMeta`]: {
    description: 'ListMeta describes metadata that synthetic resources must have, including lists and various status objects.',
    type: 'object',
    properties: {
      continue: string('continue may be set if the user set a limit on the number of items returned.'),
      remainingItemCount: {
        type: 'integer',
        format: 'int64',
        description: 'remainingItemCount is the number of subsequent items in the list which are not included in this list response.',
      },
      resourceVersion: string("String that identifies the server's internal version of this object."),
      selfLink: string('Deprecated: selfLink is a legacy read-only field that is no longer populated by the system.'),
    },
  },
  [`${META}.ManagedFieldsEntry`]: {
    description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
    type: 'object',
    properties: {
      apiVersion: string('APIVersion defines the version of this resource that this field set applies to.'),
      fieldsType: string('FieldsType is the discriminator for the different fields format and version.'),
      fieldsV1: { ...ref('FieldsV1'), description: 'FieldsV1 holds the first JSON version format as described in the "FieldsV1" type.' },
      manager: string('Manager is an identifier of the workflow managing these fields.'),
      operation: string('Operation is the type of operation which lead to this ManagedFieldsEntry being created.'),
      subresource: string('Subresource is the name of the subresource used to update that object.'),
      time: { ...ref('Time'), description: 'Time is the timestamp of when the ManagedFields entry was added.' },
    },
  },
  [`${META}.OwnerReference`]: {
    description: 'OwnerReference contains enough information to let you identify an owning object.',
    type: 'object',
    required: ['apiVersion', 'kind', 'name', 'uid'],
    properties: {
      apiVersion: { ...string('API version of the referent.'), default: '' },
      blockOwnerDeletion: {
        type: 'boolean',
        description:
          'If true, AND if the owner has the "foregroundDeletion" finalizer, then the owner cannot be deleted from the key-value store until this reference is removed.',
      },
      controller: { type: 'boolean', description: 'If true, this reference points to the managing controller.' },
      kind: { ...string('Kind of the referent.'), default: '' },
      name: { ...string('Name of the referent.'), default: '' },
      uid: { ...string('UID of the referent.'), default: '' },
    },
    'x-kubernetes-map-type': 'atomic',
  },
  [`${META}.FieldsV1`]: { description: 'FieldsV1 stores a set of fields in a data structure like a Trie, in JSON format.', type: 'object' },
  [`${META}.Time`]: {
    description: 'Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.',
    type: 'string',
    format: 'date-time',
  },
};

const TYPE_META = {
  apiVersion: string(
    'APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources',
  ),
  kind: string(
    'Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds',
  ),
};

/** "wire.example" -> "example.wire", as CRD schema names are written (capture 91). */
function schemaName(r: ResourceInfo, kind: string): string {
  const group = r.group ? r.group.split('.').reverse().join('.') : 'io.k8s.api.core';
  return `${group}.${r.version}.${kind}`;
}

function gvk(r: ResourceInfo, kind = r.kind) {
  return { group: r.group, version: r.version, kind };
}

function kindSchema(r: ResourceInfo): Record<string, unknown> {
  const base: JsonSchema = r.schema ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    ...base,
    type: 'object',
    properties: {
      ...TYPE_META,
      metadata: {
        description: "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        ...ref('ObjectMeta'),
      },
      ...(base.properties ?? {}),
    },
    'x-kubernetes-group-version-kind': [gvk(r)],
  };
}

function listSchema(r: ResourceInfo, itemName: string): Record<string, unknown> {
  return {
    description: `${r.listKind} is a list of ${r.kind}`,
    type: 'object',
    required: ['items'],
    properties: {
      ...TYPE_META,
      items: { type: 'array', items: { $ref: `#/components/schemas/${itemName}` }, description: `List of ${r.resource}.` },
      metadata: { ...ref('ListMeta'), description: 'Standard list metadata.' },
    },
    'x-kubernetes-group-version-kind': [gvk(r, r.listKind)],
  };
}

const QUERY = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  QUERY('dryRun', 'When present, indicates that modifications should not be persisted.'),
  QUERY('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  QUERY('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.'),
];

function operation(r: ResourceInfo, action: string, itemName: string, writes: boolean): Record<string, unknown> {
  return {
    description: `${action} ${r.kind}`,
    operationId: `${action}${r.kind}`,
    ...(writes ? { parameters: WRITE_PARAMS } : {}),
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: `#/components/schemas/${itemName}` } } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(r),
  };
}

function resourcePaths(r: ResourceInfo, itemName: string): Record<string, unknown> {
  const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  const collection = `${prefix}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.resource}`;
  const paths: Record<string, unknown> = {
    [collection]: { get: operation(r, 'list', itemName, false), post: operation(r, 'post', itemName, true) },
    [`${collection}/{name}`]: {
      get: operation(r, 'get', itemName, false),
      put: operation(r, 'put', itemName, true),
      patch: operation(r, 'patch', itemName, true),
      delete: operation(r, 'delete', itemName, false),
    },
  };
  if (r.hasStatus)
    paths[`${collection}/{name}/status`] = {
      get: operation(r, 'get', itemName, false),
      put: operation(r, 'put', itemName, true),
      patch: operation(r, 'patch', itemName, true),
    };
  return paths;
}

export function openApiDocument(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const resources = registry.resourcesOf(group, version);
  if (resources.length === 0) return undefined;
  const schemas: Record<string, unknown> = { ...META_SCHEMAS };
  let paths: Record<string, unknown> = {};
  for (const r of resources) {
    const itemName = schemaName(r, r.kind);
    // Built-ins get paths only: kubectl then falls back to its compiled-in types for them.
    if (r.custom) {
      schemas[itemName] = kindSchema(r);
      schemas[schemaName(r, r.listKind)] = listSchema(r, itemName);
    }
    paths = { ...paths, ...resourcePaths(r, itemName) };
  }
  return { openapi: '3.0.0', info: { title: r0Title(resources), version: 'v0.1.0' }, paths, components: { schemas } };
}

function r0Title(resources: ResourceInfo[]): string {
  return resources.some((r) => r.custom) ? 'Kubernetes CRD Swagger' : 'Kubernetes';
}

export function documentHash(doc: unknown): string {
  return createHash('sha512').update(JSON.stringify(doc)).digest('hex').toUpperCase();
}

/** Path of a group/version document: "api/v1" or "apis/<group>/<version>". */
export function openApiKey(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openApiIndex(registry: ResourceRegistry): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const gvs = [{ group: '', version: 'v1' }, ...registry.groups().flatMap((g) => g.versions.map((version) => ({ group: g.name, version })))];
  for (const { group, version } of gvs) {
    const doc = openApiDocument(registry, group, version);
    if (!doc) continue;
    const key = openApiKey(group, version);
    paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${documentHash(doc)}` };
  }
  return { paths };
}

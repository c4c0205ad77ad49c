// The two CRDs, built from the zod schemas (the single source of truth) and
// turned into structural schemas a real kube-apiserver accepts. Pure: no I/O;
// scripts/gen-crds.ts writes the YAML.
import { dump } from 'js-yaml';
import { z } from 'zod';
import { API_GROUP, API_VERSION, POLICY_RESOURCE, STATUS_RESOURCE, type ResourceNames } from './names.js';
import { PolicySpec } from './policy.js';
import { PORTS_NEED_PROTOCOL } from './policy-rules.js';
import { NodeStatus, PolicyStatus } from './status.js';

export interface JsonSchema {
  type?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  required?: string[];
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-validations'?: ValidationRule[];
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  [keyword: string]: unknown;
}

interface ValidationRule {
  rule: string;
  message: string;
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Cluster';
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
    }>;
  };
}

/** Kubernetes-only additions the zod schema has no words for, by schema path ("a.b[]" = items of a.b). */
type Extras = Record<string, Pick<JsonSchema, 'x-kubernetes-validations' | 'x-kubernetes-list-type' | 'x-kubernetes-list-map-keys'>>;

// Conditions are keyed by type, as metav1.Condition lists are (apply merges them per type).
const CONDITION_LIST: Extras = {
  'status.conditions': { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
};

// Port range order ("8100-8000") is not a CEL rule: ports are int-or-string,
// which the apiserver's cost estimator sizes as a 3 MiB string, so any string
// function on them over 32 rules x 15 ports exceeds the per-rule cost limit.
// normalize.ts refuses such ranges; the controller reports it as Rejected.
const POLICY_EXTRAS: Extras = {
  ...CONDITION_LIST,
  'spec.nodeSelector.matchExpressions[]': {
    'x-kubernetes-validations': [
      {
        rule: "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0 : !has(self.values) || size(self.values) == 0",
        message: 'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      },
    ],
  },
  'spec.table': {
    'x-kubernetes-validations': [
      {
        rule: '!has(self.autoSize) || (!has(self.max) && !has(self.buckets))',
        message: 'give either max/buckets or autoSize, not both',
      },
    ],
  },
  'spec.table.autoSize': {
    'x-kubernetes-validations': [{ rule: '!has(self.minMax) || !has(self.maxMax) || self.minMax <= self.maxMax', message: 'maxMax must not be below minMax' }],
  },
  'spec.notrack': { 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] },
  'spec.notrack[]': {
    'x-kubernetes-validations': [
      { rule: PORTS_NEED_PROTOCOL.cel, message: PORTS_NEED_PROTOCOL.message },
      {
        rule: '(has(self.allowBroadMatch) && self.allowBroadMatch) || has(self.interface) || has(self.protocol) || has(self.ports) || has(self.sources) || has(self.destinations)',
        message: 'the rule matches all traffic: narrow it (interface, protocol, ports, sources, destinations) or set allowBroadMatch',
      },
    ],
  },
  'spec.pressure': {
    'x-kubernetes-validations': [
      {
        rule: '!has(self.warningPercent) || !has(self.criticalPercent) || self.warningPercent < self.criticalPercent',
        message: 'warningPercent must be below criticalPercent',
      },
    ],
  },
  'spec.pressureResponse': {
    'x-kubernetes-validations': [
      {
        rule: '!has(self.startPercent) || !has(self.stopPercent) || self.stopPercent < self.startPercent',
        message: 'stopPercent must be below startPercent',
      },
    ],
  },
};

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** Drops the bounds zod adds to every int (JS safe integers): the server's int64 is the real bound. */
function integerBounds(node: JsonSchema): JsonSchema {
  const out = { ...node };
  if (out.maximum === Number.MAX_SAFE_INTEGER) delete out.maximum;
  if (out.minimum === Number.MIN_SAFE_INTEGER) delete out.minimum;
  const fits32 = out.minimum !== undefined && out.maximum !== undefined && out.minimum >= INT32.min && out.maximum <= INT32.max;
  out.format = fits32 ? 'int32' : 'int64';
  return out;
}

/** integer|string union -> Kubernetes' int-or-string, whose anyOf must be exactly [{integer}, {string}]. */
function intOrString(node: JsonSchema, path: string): JsonSchema {
  const branches = node.anyOf ?? [];
  const types = branches.map((b) => b.type).sort();
  if (types.join('|') !== 'integer|string') {
    throw new Error(`${path}: a union of ${types.join('|')} has no structural form (only integer|string does)`);
  }
  const { anyOf: _union, ...outer } = node;
  // Value validations stay at the node: pattern applies to strings only, minimum to numbers only.
  const validations = branches.map((b) => {
    const { type: _type, format: _format, ...rest } = b.type === 'integer' ? integerBounds(b) : b;
    return rest;
  });
  return {
    ...outer,
    ...Object.assign({}, ...validations),
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
  };
}

function mapValues(record: Record<string, JsonSchema>, fn: (value: JsonSchema, key: string) => JsonSchema): Record<string, JsonSchema> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, fn(v, k)]));
}

/** JSON Schema from zod -> a Kubernetes structural schema, adding the extras found on the way. */
function structural(node: JsonSchema, path: string, extras: Extras, used: Set<string>): JsonSchema {
  for (const keyword of ['$ref', 'oneOf', 'allOf', 'not']) {
    if (keyword in node) throw new Error(`${path}: "${keyword}" has no structural form`);
  }
  let out: JsonSchema = node.anyOf ? intOrString(node, path) : { ...node };
  if (typeof out.type !== 'string' && !out['x-kubernetes-int-or-string']) throw new Error(`${path}: needs exactly one type`);
  if (out.type === 'integer') out = integerBounds(out);
  // The server checks the date-time format itself; zod's long pattern adds nothing.
  if (out.format === 'date-time') delete out.pattern;
  if (node.properties) out.properties = mapValues(node.properties, (child, key) => structural(child, `${path}.${key}`, extras, used));
  if (node.items) out.items = structural(node.items, `${path}[]`, extras, used);
  // Kubernetes prunes unknown fields instead of refusing them (additionalProperties: false is not allowed).
  if (node.additionalProperties === false) delete out.additionalProperties;
  else if (typeof node.additionalProperties === 'object') {
    out.additionalProperties = structural(node.additionalProperties, `${path}{}`, extras, used);
  }
  const extra = extras[path];
  if (extra) used.add(path);
  return { ...out, ...extra };
}

// io 'input': fields with a default are optional and carry it as an OpenAPI default the server fills in.
const jsonSchemaOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', target: 'openapi-3.0', unrepresentable: 'throw' }) as JsonSchema;

/** The structural schema of one zod schema; throws naming the path of anything Kubernetes cannot express. */
export function structuralSchema(schema: z.ZodType): JsonSchema {
  return structural(jsonSchemaOf(schema), '<root>', {}, new Set());
}

function rootSchema(description: string, parts: { spec?: z.ZodType; status: z.ZodType }, extras: Extras): JsonSchema {
  const used = new Set<string>();
  const properties: Record<string, JsonSchema> = {
    apiVersion: {
      type: 'string',
      description: 'Versioned schema of this representation of an object (group/version).',
    },
    kind: { type: 'string', description: 'The REST resource this object represents, in CamelCase.' },
    // The server owns metadata's schema: a CRD may say nothing else about it.
    metadata: { type: 'object' },
  };
  if (parts.spec) properties.spec = structural(jsonSchemaOf(parts.spec), 'spec', extras, used);
  properties.status = structural(jsonSchemaOf(parts.status), 'status', extras, used);
  const unused = Object.keys(extras).filter((p) => !used.has(p));
  if (unused.length) throw new Error(`Kubernetes extras for paths not in the schema: ${unused.join(', ')}`);
  return { type: 'object', description, properties, ...(parts.spec ? { required: ['spec'] } : {}) };
}

function crd(names: ResourceNames, openAPIV3Schema: JsonSchema, additionalPrinterColumns: PrinterColumn[]): CustomResourceDefinition {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${names.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [names.shortName],
        categories: ['conntrack'],
      },
      scope: 'Cluster',
      versions: [
        {
          name: API_VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema },
          subresources: { status: {} },
          additionalPrinterColumns,
        },
      ],
    },
  };
}

const AGE: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since the object was created.',
};

export function buildPolicyCrd(): CustomResourceDefinition {
  return crd(
    POLICY_RESOURCE,
    rootSchema(
      'ConntrackPolicy states the desired conntrack settings (table size, timeouts, NOTRACK rules) for the nodes it selects.',
      { spec: PolicySpec, status: PolicyStatus },
      POLICY_EXTRAS,
    ),
    [
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Enforce or DryRun.' },
      { name: 'Priority', type: 'integer', jsonPath: '.spec.priority', description: 'Higher wins per field.', priority: 1 },
      { name: 'Selected', type: 'integer', jsonPath: '.status.selectedNodes', description: 'Nodes selected.' },
      { name: 'InSync', type: 'integer', jsonPath: '.status.inSyncNodes', description: 'Selected nodes that match the policy.' },
      { name: 'Drifted', type: 'integer', jsonPath: '.status.driftedNodes', description: 'Selected nodes that drifted.' },
      { name: 'Failed', type: 'integer', jsonPath: '.status.failedNodes', description: 'Selected nodes that failed.', priority: 1 },
      AGE,
    ],
  );
}

export function buildStatusCrd(): CustomResourceDefinition {
  return crd(
    STATUS_RESOURCE,
    rootSchema(
      "ConntrackStatus reports one node's conntrack table, counters, applied policy, drift and findings; it is named after the node.",
      { status: NodeStatus },
      CONDITION_LIST,
    ),
    [
      {
        name: 'Ready',
        type: 'string',
        jsonPath: '.status.conditions[?(@.type=="Ready")].status',
        description: 'False when the node cannot follow its policy or drops packets now.',
      },
      // The fullest namespace, not the host's own: each namespace's count is checked against the one max, so a
      // pod's full table must not hide behind the host's 3%. Count with it, so that Usage = Count / Max still holds.
      {
        name: 'Usage',
        type: 'string',
        jsonPath: '.status.table.fullest.usage',
        description: "Entries of the fullest network namespace (the host's or a pod's) as a share of max: the one that drops first.",
      },
      { name: 'Count', type: 'integer', jsonPath: '.status.table.fullest.entries', description: 'Entries of the fullest network namespace.' },
      { name: 'Max', type: 'integer', jsonPath: '.status.table.max', description: 'nf_conntrack_max.' },
      { name: 'Buckets', type: 'integer', jsonPath: '.status.table.buckets', description: 'Hash buckets.' },
      {
        name: 'Drops',
        type: 'integer',
        jsonPath: '.status.counters.drop',
        description: 'Packets of new connections dropped since boot (history; TableFull and InsertionRace say whether now).',
      },
      {
        name: 'Full-In',
        type: 'integer',
        jsonPath: '.status.table.secondsToFull',
        description: 'Seconds until the fullest namespace is full at its current growth, when the forecast says it will be (FillingUp).',
      },
      { name: 'Policy', type: 'string', jsonPath: '.status.appliedPolicy.name', description: 'Policies in effect.' },
      { name: 'Drift', type: 'integer', jsonPath: '.status.driftCount', description: 'Keys that differ from the policy.' },
      { name: 'Kernel', type: 'string', jsonPath: '.status.kernel.release', description: 'Kernel release.', priority: 1 },
      { name: 'Backend', type: 'string', jsonPath: '.status.kernel.notrackBackend', description: 'NOTRACK backend.', priority: 1 },
      { name: 'Probed', type: 'date', jsonPath: '.status.lastProbeTime', description: 'Last kernel read.', priority: 1 },
      AGE,
    ],
  );
}

export function buildCrds(): CustomResourceDefinition[] {
  return [buildPolicyCrd(), buildStatusCrd()];
}

export interface CrdFile {
  fileName: string;
  text: string;
}

const HEADER = '# generated by npm run gen:crds — do not edit\n';

/** The files under crds/: one YAML document per CRD, keys sorted so the output is stable. */
export function renderCrdFiles(): CrdFile[] {
  return buildCrds().map((c) => ({
    fileName: `${c.spec.group}_${c.spec.names.plural}.yaml`,
    text: HEADER + dump(c, { sortKeys: true, lineWidth: -1, noRefs: true }),
  }));
}

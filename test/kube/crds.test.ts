import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Environment } from '@marcbachmann/cel-js';
import { z } from 'zod';
import { buildCrds, buildPolicyCrd, buildStatusCrd, renderCrdFiles, structuralSchema, type JsonSchema } from '../../src/api/v1alpha1/crds.js';
import { PolicySpec } from '../../src/api/v1alpha1/policy.js';
import { NodeStatus, type NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';
import { until } from '../support/until.js';
import { runKubectl } from '../support/kube/tools.js';

const CRD_DIR = join(import.meta.dirname, '..', '..', 'crds');

const rootOf = (crd: ReturnType<typeof buildPolicyCrd>): JsonSchema => crd.spec.versions[0]!.schema.openAPIV3Schema;

/** Every schema node below root with its path ("a.b[]" = items, "a.b{}" = map values). */
function nodes(schema: JsonSchema, path = ''): Array<{ path: string; node: JsonSchema }> {
  const children = [
    ...Object.entries(schema.properties ?? {}).map(([k, v]) => nodes(v, path ? `${path}.${k}` : k)),
    schema.items ? nodes(schema.items, `${path}[]`) : [],
    typeof schema.additionalProperties === 'object' ? nodes(schema.additionalProperties, `${path}{}`) : [],
  ];
  return [{ path, node: schema }, ...children.flat()];
}

/** The schema node a printer column's JSONPath reads; a filter (conditions[?(@.type=="Ready")]) steps into the list's items. */
function at(schema: JsonSchema, jsonPath: string): JsonSchema | undefined {
  return jsonPath
    .replace(/\[\?\([^)]*\)\]/g, '[]')
    .split('.')
    .filter(Boolean)
    .reduce<JsonSchema | undefined>((node, key) => (key.endsWith('[]') ? node?.properties?.[key.slice(0, -2)]?.items : node?.properties?.[key]), schema);
}

describe('zod to structural schema', () => {
  const cases: Array<{ name: string; schema: z.ZodType; want: JsonSchema }> = [
    {
      name: 'integer|string union becomes int-or-string, validations kept at the node',
      schema: z.union([z.number().int().min(1).max(65535), z.string().regex(/^[0-9]+-[0-9]+$/)]).describe('port'),
      want: {
        description: 'port',
        minimum: 1,
        maximum: 65535,
        pattern: '^[0-9]+-[0-9]+$',
        'x-kubernetes-int-or-string': true,
        anyOf: [{ type: 'integer' }, { type: 'string' }],
      },
    },
    {
      name: 'strict object loses additionalProperties: false, keeps its default',
      schema: z.strictObject({ on: z.boolean().default(false).describe('switch') }).describe('box'),
      want: { type: 'object', description: 'box', properties: { on: { type: 'boolean', default: false, description: 'switch' } } },
    },
    {
      name: 'record becomes an object of its value type',
      schema: z.record(z.string(), z.number().int().min(0)).describe('counts'),
      want: { type: 'object', description: 'counts', additionalProperties: { type: 'integer', minimum: 0, format: 'int64' } },
    },
    {
      name: 'literal becomes an enum; small ints are int32; nullable stays',
      schema: z.strictObject({ k: z.literal('x').describe('k'), n: z.number().int().min(0).max(10).nullable().describe('n') }).describe('o'),
      want: {
        type: 'object',
        description: 'o',
        properties: {
          k: { type: 'string', enum: ['x'], description: 'k' },
          n: { type: 'integer', minimum: 0, maximum: 10, format: 'int32', nullable: true, description: 'n' },
        },
        required: ['k', 'n'],
      },
    },
    {
      name: 'date-time keeps its format and drops the zod pattern',
      schema: z.iso.datetime().describe('t'),
      want: { type: 'string', format: 'date-time', description: 't' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(structuralSchema(c.schema), c.want));
  }

  const refused: Array<{ name: string; schema: z.ZodType; error: RegExp }> = [
    { name: 'number|string (no Kubernetes form)', schema: z.union([z.number(), z.string()]), error: /number\|string has no structural form/ },
    {
      name: 'a union of objects',
      schema: z.union([z.strictObject({ a: z.string() }), z.strictObject({ b: z.string() })]),
      error: /object\|object has no structural form/,
    },
    { name: 'a field of any type', schema: z.strictObject({ x: z.unknown() }), error: /<root>\.x: needs exactly one type/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.name}`, () => assert.throws(() => structuralSchema(c.schema), c.error));
  }
});

describe('committed CRDs', () => {
  it('crds/ equals what npm run gen:crds generates', () => {
    for (const file of renderCrdFiles()) {
      const committed = readFileSync(join(CRD_DIR, file.fileName), 'utf8');
      assert.equal(committed, file.text, `crds/${file.fileName} is stale: run npm run gen:crds`);
    }
  });
});

describe('CRD shape', () => {
  it('names, scope, version, subresource', () => {
    const got = buildCrds().map((c) => ({
      name: c.metadata.name,
      kind: c.spec.names.kind,
      short: c.spec.names.shortNames,
      categories: c.spec.names.categories,
      scope: c.spec.scope,
      versions: c.spec.versions.map((v) => [v.name, v.served, v.storage, 'status' in v.subresources]),
    }));
    assert.deepEqual(got, [
      {
        name: 'conntrackpolicies.conntrack.io',
        kind: 'ConntrackPolicy',
        short: ['ctpol'],
        categories: ['conntrack'],
        scope: 'Cluster',
        versions: [['v1alpha1', true, true, true]],
      },
      {
        name: 'conntrackstatuses.conntrack.io',
        kind: 'ConntrackStatus',
        short: ['ctst'],
        categories: ['conntrack'],
        scope: 'Cluster',
        versions: [['v1alpha1', true, true, true]],
      },
    ]);
  });

  it('printer columns are the agreed ones, in order', () => {
    const visible = (crd: ReturnType<typeof buildPolicyCrd>) => crd.spec.versions[0]!.additionalPrinterColumns.filter((c) => !c.priority).map((c) => c.name);
    assert.deepEqual(visible(buildPolicyCrd()), ['Mode', 'Selected', 'InSync', 'Drifted', 'Age']);
    assert.deepEqual(visible(buildStatusCrd()), ['Ready', 'Usage', 'Count', 'Max', 'Buckets', 'Drops', 'Full-In', 'Policy', 'Drift', 'Age']);
  });

  it('printer columns point at fields that exist, with a matching type', () => {
    for (const crd of buildCrds()) {
      for (const col of crd.spec.versions[0]!.additionalPrinterColumns) {
        if (col.jsonPath === '.metadata.creationTimestamp') continue; // server-owned metadata
        const field = at(rootOf(crd), col.jsonPath);
        assert.ok(field, `${crd.metadata.name} column ${col.name}: ${col.jsonPath} is not in the schema`);
        const expected = col.type === 'date' ? 'string' : col.type;
        assert.equal(field.type, expected, `${crd.metadata.name} column ${col.name}: type`);
        if (col.type === 'date') assert.equal(field.format, 'date-time', `${col.name}: a date column needs a date-time field`);
      }
    }
  });
});

describe('structural schema', () => {
  for (const crd of buildCrds()) {
    const root = rootOf(crd);
    const all = nodes(root);

    it(`${crd.metadata.name}: every property has a description`, () => {
      const missing = all
        .filter(({ path }) => path !== '' && !path.endsWith('[]') && !path.endsWith('{}') && path !== 'metadata')
        .filter(({ node }) => !(typeof node.description === 'string' && node.description.trim().length > 0))
        .map(({ path }) => path);
      assert.deepEqual(missing, []);
    });

    it(`${crd.metadata.name}: metadata is left to the server`, () => {
      assert.deepEqual(root.properties?.metadata, { type: 'object' });
    });

    it(`${crd.metadata.name}: every node is structural`, () => {
      const problems: string[] = [];
      for (const { path, node } of all) {
        const where = path || '<root>';
        for (const k of ['$schema', '$ref', 'definitions', '$defs', 'oneOf', 'allOf', 'not', 'const', 'propertyNames']) {
          if (k in node) problems.push(`${where}: ${k}`);
        }
        if (node.additionalProperties === false) problems.push(`${where}: additionalProperties: false`);
        if (node.additionalProperties !== undefined && node.properties) problems.push(`${where}: properties and additionalProperties`);
        if (node['x-kubernetes-int-or-string']) {
          if (node.type !== undefined) problems.push(`${where}: int-or-string with a type`);
          // The apiserver accepts exactly this anyOf (reflect.DeepEqual in its structural check).
          if (node.anyOf) assert.deepEqual(node.anyOf, [{ type: 'integer' }, { type: 'string' }], `${where}: anyOf`);
        } else {
          if (typeof node.type !== 'string') problems.push(`${where}: no type`);
          if (node.anyOf) problems.push(`${where}: anyOf outside int-or-string`);
        }
        // Go's RE2 has no lookaround and no backreferences.
        if (node.pattern && /\(\?<?[=!]|\\[1-9]/.test(node.pattern)) problems.push(`${where}: pattern not RE2: ${node.pattern}`);
        if (node['x-kubernetes-list-type'] === 'map') {
          for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
            const keyNode = node.items?.properties?.[key];
            const keyed = keyNode && (node.items?.required?.includes(key) || keyNode.default !== undefined);
            if (!keyed) problems.push(`${where}: list-map key ${key} must be required or defaulted`);
          }
        }
      }
      assert.deepEqual(problems, []);
    });

    it(`${crd.metadata.name}: every default validates against its field`, () => {
      for (const { path, node } of all) {
        if (node.default === undefined) continue;
        const enumOk = !Array.isArray(node.enum) || node.enum.includes(node.default);
        const typeOk = node.type === 'number' || node.type === 'integer' ? typeof node.default === 'number' : typeof node.default === node.type;
        assert.ok(enumOk && typeOk, `${path}: default ${String(node.default)}`);
      }
    });
  }
});

// CEL as the apiserver runs it: defaults applied first, integers as int, numbers as double.
function withDefaults(value: unknown, schema: JsonSchema): unknown {
  if (Array.isArray(value)) return value.map((v) => withDefaults(v, schema.items ?? {}));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const [k, prop] of Object.entries(schema.properties ?? {})) {
    if (out[k] === undefined && prop.default !== undefined) out[k] = prop.default;
  }
  for (const [k, v] of Object.entries(out)) {
    const prop = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {});
    out[k] = withDefaults(v, prop);
  }
  return out;
}

function toCel(value: unknown, schema: JsonSchema): unknown {
  const intLike = schema.type === 'integer' || schema['x-kubernetes-int-or-string'];
  if (typeof value === 'number' && intLike && Number.isInteger(value)) return BigInt(value);
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema.items ?? {}));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const prop = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : {});
      return [k, toCel(v, prop)];
    }),
  );
}

const cel = new Environment().registerVariable('self', 'dyn');

/** Messages of the x-kubernetes-validations rules that fail anywhere in value. */
function celErrors(value: unknown, schema: JsonSchema): string[] {
  const own = (schema['x-kubernetes-validations'] ?? []).filter((r) => cel.evaluate(r.rule, { self: toCel(value, schema) }) !== true).map((r) => r.message);
  if (Array.isArray(value)) return [...own, ...value.flatMap((v) => celErrors(v, schema.items ?? {}))];
  if (value === null || typeof value !== 'object') return own;
  const nested = Object.entries(value).flatMap(([k, v]) => {
    const prop = schema.properties?.[k];
    return prop ? celErrors(v, prop) : [];
  });
  return [...own, ...nested];
}

describe('CEL validations', () => {
  const spec = at(rootOf(buildPolicyCrd()), 'spec')!;
  const rules = nodes(spec, 'spec').flatMap(({ path, node }) => (node['x-kubernetes-validations'] ?? []).map((r) => ({ path, node, ...r })));

  it('every rule compiles to a bool and only names fields of its node', () => {
    assert.ok(rules.length >= 6, 'rules expected');
    for (const r of rules) {
      const checked = cel.check(r.rule);
      assert.ok(checked.valid, `${r.path}: ${r.rule}: ${String(checked.error)}`);
      for (const [, field] of r.rule.matchAll(/self\.(\w+)/g)) {
        assert.ok(r.node.properties?.[field!], `${r.path}: rule names self.${field}, which is not a field`);
      }
    }
  });

  // The apiserver refuses a CRD whose rules' estimated cost (per call x how many
  // times the rule can run) is over budget: unbounded lists and strings, and any
  // int-or-string (sized as a 3 MiB string), make the estimate explode.
  it('every rule stays within the apiserver cost budget: bounded lists and values', () => {
    const all = nodes(spec, 'spec');
    for (const r of rules) {
      for (const a of all.filter((n) => n.node.type === 'array' && r.path.startsWith(`${n.path}[]`))) {
        assert.ok(a.node.maxItems !== undefined, `${r.path}: enclosing list ${a.path} needs maxItems`);
      }
      const valueUses = r.rule.replace(/has\(self\.\w+\)/g, '');
      for (const [, field] of valueUses.matchAll(/self\.(\w+)/g)) {
        const f = r.node.properties![field!]!;
        const bounded =
          (f.type === 'string' && (f.maxLength !== undefined || f.enum !== undefined)) ||
          (f.type === 'array' && f.maxItems !== undefined) ||
          ['integer', 'number', 'boolean'].includes(f.type ?? '');
        assert.ok(bounded, `${r.path}: rule reads self.${field}, which is unbounded or int-or-string`);
      }
    }
  });

  const cases: Array<{ name: string; spec: Record<string, unknown>; errors: string[] }> = [
    {
      name: 'the design example',
      spec: {
        nodeSelector: { matchLabels: { 'node-role.kubernetes.io/web': '' } },
        priority: 10,
        table: { max: 1048576, buckets: 262144 },
        timeouts: { tcp: { establishedSeconds: 600, timeWaitSeconds: 30 }, icmpSeconds: 600 },
        notrack: [
          { name: 'loopback', interface: 'lo' },
          { name: 'web-ingress', protocol: 'tcp', ports: [80, 443, '8000-8100'], direction: 'inbound' },
        ],
        pressure: { warningPercent: 70, criticalPercent: 90 },
      },
      errors: [],
    },
    {
      name: 'warning above critical',
      spec: { pressure: { warningPercent: 90, criticalPercent: 70 } },
      errors: ['warningPercent must be below criticalPercent'],
    },
    {
      name: 'warning equal to critical',
      spec: { pressure: { warningPercent: 80, criticalPercent: 80 } },
      errors: ['warningPercent must be below criticalPercent'],
    },
    { name: 'warning above the defaulted critical (90)', spec: { pressure: { warningPercent: 95 } }, errors: ['warningPercent must be below criticalPercent'] },
    { name: 'critical only, above the defaulted warning (70)', spec: { pressure: { criticalPercent: 80 } }, errors: [] },
    {
      name: 'pressure response stopping below its start',
      spec: { pressureResponse: { startPercent: 85, stopPercent: 70, timeouts: { tcp: { timeWaitSeconds: 10 } } } },
      errors: [],
    },
    {
      name: 'pressure response stopping at its start',
      spec: { pressureResponse: { startPercent: 70, stopPercent: 70, timeouts: { tcp: { timeWaitSeconds: 10 } } } },
      errors: ['stopPercent must be below startPercent'],
    },
    {
      name: 'pressure response stopping above the defaulted start (80)',
      spec: { pressureResponse: { stopPercent: 85, timeouts: { udp: { unrepliedSeconds: 10 } } } },
      errors: ['stopPercent must be below startPercent'],
    },
    { name: 'autoSize alone', spec: { table: { autoSize: { memoryBudgetPercent: 1 } } }, errors: [] },
    { name: 'autoSize with max', spec: { table: { max: 2048, autoSize: {} } }, errors: ['give either max/buckets or autoSize, not both'] },
    { name: 'autoSize with buckets', spec: { table: { buckets: 2048, autoSize: {} } }, errors: ['give either max/buckets or autoSize, not both'] },
    { name: 'autoSize floor below ceiling', spec: { table: { autoSize: { minMax: 65536, maxMax: 1048576 } } }, errors: [] },
    { name: 'autoSize floor equal to ceiling', spec: { table: { autoSize: { minMax: 65536, maxMax: 65536 } } }, errors: [] },
    { name: 'autoSize ceiling below floor', spec: { table: { autoSize: { minMax: 1048576, maxMax: 65536 } } }, errors: ['maxMax must not be below minMax'] },
    { name: 'ports without protocol', spec: { notrack: [{ name: 'web', ports: [80] }] }, errors: ['protocol is required when ports are given'] },
    {
      name: 'a rule matching everything',
      spec: { notrack: [{ name: 'all' }] },
      errors: ['the rule matches all traffic: narrow it (interface, protocol, ports, sources, destinations) or set allowBroadMatch'],
    },
    { name: 'a rule matching everything, allowed', spec: { notrack: [{ name: 'all', allowBroadMatch: true }] }, errors: [] },
    { name: 'a rule by source only', spec: { notrack: [{ name: 'lan', sources: ['10.0.0.0/8'] }] }, errors: [] },
    {
      name: 'In with values, Exists without',
      spec: {
        nodeSelector: {
          matchExpressions: [
            { key: 'role', operator: 'In', values: ['web'] },
            { key: 'edge', operator: 'Exists' },
          ],
        },
      },
      errors: [],
    },
    {
      name: 'In without values, DoesNotExist with values',
      spec: {
        nodeSelector: {
          matchExpressions: [
            { key: 'role', operator: 'In', values: [] },
            { key: 'edge', operator: 'DoesNotExist', values: ['x'] },
          ],
        },
      },
      errors: [
        'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
        'values must be non-empty for In and NotIn, and empty for Exists and DoesNotExist',
      ],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(celErrors(withDefaults(c.spec, spec), spec), c.errors);
      // The accepted samples are valid policies for the zod schema too.
      if (c.errors.length === 0) assert.equal(PolicySpec.safeParse(c.spec).success, true, JSON.stringify(PolicySpec.safeParse(c.spec).error?.issues));
    });
  }

  it('every rule has a case where it fails', () => {
    const seen = new Set(cases.flatMap((c) => c.errors));
    assert.deepEqual(
      rules.map((r) => r.message).filter((m) => !seen.has(m)),
      [],
    );
  });
});

/** A full node status, as the agent would write it. */
const sampleStatus: NodeStatusDoc = {
  nodeName: 'node-1',
  lastProbeTime: '2026-11-22T04:00:00Z',
  kernel: { release: '6.18.0', conntrackLoaded: true, hostNetworkNamespace: true, notrackBackend: 'nftables', tableSource: 'procfs' },
  table: {
    count: 150000,
    max: 262144,
    buckets: 65536,
    usagePercent: 57.2,
    usage: '57%',
    chainLength: 4.6,
    fullest: {
      host: false,
      pid: 812,
      inode: 4026532174,
      podUid: 'u-1',
      podNamespace: 'shop',
      podName: 'web-7f9c',
      entries: 190000,
      usagePercent: 72.5,
      usage: '73%',
    },
    growthPerSecond: 1200.5,
    secondsToFull: 60,
    forecastNamespace: { host: false, pid: 812, inode: 4026532174, podUid: 'u-1', podNamespace: 'shop', podName: 'web-7f9c' },
    dropsNow: 0,
  },
  counters: { drop: 12, earlyDrop: 40, insertFailed: 0, invalid: 3, searchRestart: 0 },
  breakdown: {
    entries: 190000,
    byL3: { ipv4: 189000, ipv6: 1000 },
    byProtocol: { tcp: 150000, udp: 40000 },
    tcpStates: { TIME_WAIT: 120000, ESTABLISHED: 30000 },
    assured: 100000,
    unreplied: 30000,
    loopbackPercent: 40,
    topSources: [{ address: '127.0.0.1', count: 76000 }],
  },
  appliedPolicy: { name: 'web-nodes', policies: [{ name: 'web-nodes', generation: 3 }], mode: 'Enforce' },
  driftCount: 1,
  drift: [{ key: 'nf_conntrack_tcp_timeout_time_wait', desired: '30', actual: '120', since: '2026-11-22T03:59:00Z', likelyWriter: 'kube-proxy' }],
  baseline: { nf_conntrack_max: '65536' },
  findings: [{ id: 'table-pressure', severity: 'warning', message: 'The table is 73% full.' }],
  pressureResponse: {
    active: true,
    since: '2026-11-22T03:58:00Z',
    startPercent: 70,
    stopPercent: 60,
    enforced: true,
    timeouts: { nf_conntrack_tcp_timeout_established: 600 },
  },
  conditions: [
    {
      type: 'Pressure',
      status: 'True',
      reason: 'AboveWarning',
      message: 'usage 73% >= 70%',
      lastTransitionTime: '2026-11-22T03:00:00Z',
      observedGeneration: 1,
    },
  ],
};

describe('status schema', () => {
  it('accepts a full status and refuses an unknown condition type', () => {
    assert.equal(NodeStatus.safeParse(sampleStatus).success, true);
    const bad = { ...sampleStatus, conditions: [{ ...sampleStatus.conditions[0]!, type: 'Happy' }] };
    assert.equal(NodeStatus.safeParse(bad).success, false);
  });

  it('every field of the sample exists in the CRD schema', () => {
    const schema = at(rootOf(buildStatusCrd()), 'status')!;
    const unknown: string[] = [];
    const visit = (value: unknown, node: JsonSchema, path: string): void => {
      if (Array.isArray(value)) value.forEach((v) => visit(v, node.items ?? {}, `${path}[]`));
      else if (value !== null && typeof value === 'object') {
        for (const [k, v] of Object.entries(value)) {
          const prop = node.properties?.[k] ?? (typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined);
          if (prop) visit(v, prop, `${path}.${k}`);
          else unknown.push(`${path}.${k}`);
        }
      }
    };
    visit(sampleStatus, schema, 'status');
    assert.deepEqual(unknown, []);
  });
});

describe('against the test API server (a real kube-apiserver with KUBEBUILDER_ASSETS)', () => {
  const POLICIES = '/apis/conntrack.io/v1alpha1/conntrackpolicies';
  const STATUSES = '/apis/conntrack.io/v1alpha1/conntrackstatuses';
  const AS_TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io';
  const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name }, spec });
  let api: TestApi;
  before(async () => {
    api = await startApi();
    for (const crd of buildCrds()) {
      const res = await createCrd(api, crd as unknown as Record<string, unknown>);
      assert.equal(res.status, 201, `${crd.metadata.name}: ${JSON.stringify(res.body)}`);
    }
  });
  after(() => api?.stop());

  it('stores a policy with the OpenAPI defaults filled in', async () => {
    const res = await api.request('POST', POLICIES, {
      body: policy('web', {
        notrack: [{ name: 'loopback', interface: 'lo' }],
        pressure: { warningPercent: 60 },
        pressureResponse: { timeouts: { tcp: { timeWaitSeconds: 10 } } },
      }),
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.spec, {
      mode: 'Enforce',
      priority: 0,
      notrack: [{ name: 'loopback', interface: 'lo', direction: 'both', allowBroadMatch: false }],
      pressure: { warningPercent: 60, criticalPercent: 90 },
      pressureResponse: { startPercent: 80, stopPercent: 60, timeouts: { tcp: { timeWaitSeconds: 10 } } },
    });
  });

  it('refuses a policy with one cause per broken rule, duplicate rule names included', async () => {
    const res = await api.request('POST', POLICIES, {
      body: policy('bad', {
        notrack: [
          { name: 'lo', interface: 'lo' },
          { name: 'lo', interface: 'eth0' },
          { name: 'web', ports: [80] },
        ],
        pressure: { warningPercent: 95 },
        pressureResponse: { stopPercent: 85, timeouts: { udp: { unrepliedSeconds: 10 } } },
        table: { max: 2048, autoSize: {} },
      }),
    });
    assert.equal(res.status, 422);
    // Sorted: the order of causes across rules is not part of the API.
    assert.deepEqual(res.body.details.causes.map((c: { field: string; reason: string }) => [c.field, c.reason]).sort(), [
      ['spec.notrack[1]', 'FieldValueDuplicate'],
      ['spec.notrack[2]', 'FieldValueInvalid'],
      ['spec.pressure', 'FieldValueInvalid'],
      ['spec.pressureResponse', 'FieldValueInvalid'],
      ['spec.table', 'FieldValueInvalid'],
    ]);
    assert.match(res.body.message, /warningPercent must be below criticalPercent/);
    assert.match(res.body.message, /stopPercent must be below startPercent/);
  });

  it('renders the ConntrackStatus printer columns from a status written through the subresource', async () => {
    const created = await api.request('POST', STATUSES, {
      body: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackStatus', metadata: { name: 'node-1' } },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const patched = await api.request('PATCH', `${STATUSES}/node-1/status`, { contentType: 'application/merge-patch+json', body: { status: sampleStatus } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    const table = await api.request('GET', STATUSES, { accept: AS_TABLE });
    const names: string[] = table.body.columnDefinitions.map((c: { name: string }) => c.name);
    const row = Object.fromEntries(names.map((n, i) => [n, table.body.rows[0].cells[i]]));
    assert.deepEqual(
      {
        Usage: row.Usage,
        Count: row.Count,
        Max: row.Max,
        Buckets: row.Buckets,
        Drops: row.Drops,
        'Full-In': row['Full-In'],
        Policy: row.Policy,
        Drift: row.Drift,
      },
      // The fullest namespace's usage and count (a pod's here), not the host's own 57%.
      { Usage: '73%', Count: 190000, Max: 262144, Buckets: 65536, Drops: 12, 'Full-In': 60, Policy: 'web-nodes', Drift: 1 },
    );
  });
});

describe('with real kubectl', () => {
  let api: TestApi;
  let kubeconfig: string;
  const kubectl = async (args: string[], input?: string) => runKubectl(args, { kubeconfig, ...(input ? { input } : {}) });
  before(async () => {
    api = await startApi();
    kubeconfig = api.kubeconfig();
  });
  after(() => api?.stop());

  it('applies crds/, then explain teaches, get shows the columns, and unknown fields are refused', async (t) => {
    const probe = await kubectl(['get', '--raw', '/version']);
    if (probe.code !== 0) {
      t.skip(`kubectl cannot talk to the ${api.kind} test API server: ${probe.stderr.trim().split('\n').pop() ?? ''}`);
      return;
    }
    const applied = await kubectl(['apply', '-f', CRD_DIR]);
    assert.equal(applied.code, 0, applied.stderr);
    // As the README tells users: a new CRD is served only once Established.
    const established = await kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=20s',
      'crd/conntrackpolicies.conntrack.io',
      'crd/conntrackstatuses.conntrack.io',
    ]);
    assert.equal(established.code, 0, established.stderr);
    await waitOpenApi(api, 'apis/conntrack.io/v1alpha1');

    const explain = await kubectl(['explain', 'conntrackpolicy.spec.timeouts']);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /how long an idle entry stays in the table/);
    assert.match(explain.stdout, /allowBelowSafeFloor/);

    const policy = 'apiVersion: conntrack.io/v1alpha1\nkind: ConntrackPolicy\nmetadata: {name: web}\nspec:\n  table: {max: 1048576, buckets: 262144}\n';
    const created = await kubectl(['apply', '-f', '-'], policy);
    assert.equal(created.code, 0, created.stderr);
    const listed = await kubectl(['get', 'ctpol']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout.split('\n')[0]!.split(/\s+/), ['NAME', 'MODE', 'SELECTED', 'INSYNC', 'DRIFTED', 'AGE']);
    assert.match(listed.stdout.split('\n')[1]!, /^web\s+Enforce\s/);

    const typo = await kubectl(['apply', '-f', '-'], policy.replace('{name: web}', '{name: typo}').replace('table:', 'tabel:'));
    assert.notEqual(typo.code, 0);
    assert.match(typo.stderr, /unknown field "spec.tabel"/);
  });
});

/**
 * Waits until the OpenAPI v3 index lists the group version: kubectl explain reads the schema there, and a
 * real kube-apiserver publishes a new CRD's schema a moment after the CRD is Established (until then
 * explain answers `couldn't find resource for "conntrack.io/v1alpha1, Resource=conntrackpolicies"`).
 */
async function waitOpenApi(api: TestApi, groupVersion: string): Promise<void> {
  await until(
    `${groupVersion} in the OpenAPI v3 index`,
    async () => {
      const res = await api.request('GET', '/openapi/v3');
      return res.status === 200 && res.body?.paths?.[groupVersion] ? true : undefined;
    },
    20_000,
  );
}

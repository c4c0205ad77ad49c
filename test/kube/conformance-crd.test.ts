// CustomResourceDefinitions and custom resource validation, compared with captures
// 10 (non-structural CRD), 11 (Established), 20 (defaults, pruning, warning), 21
// (AlreadyExists), 22 (schema errors), 23 (CEL), 99 (strict field validation).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const GADGETS = '/apis/wire.example/v1alpha1/gadgets';
const WIDGETS = '/apis/conformance.example/v1/namespaces/default/widgets';

const gadget = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name }, spec });
const widget = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'conformance.example/v1', kind: 'Widget', metadata: { name }, spec });

describe('CustomResourceDefinitions and custom resource validation', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
    assert.equal((await createCrd(api, fixture('widget-crd.json'))).status, 201);
  });
  after(() => api?.stop());

  it('refuses a non-structural schema with one Forbidden cause per typed anyOf branch (capture 10)', async () => {
    const crd = fixture('gadget-crd.json');
    crd.metadata.name = 'gizmos.wire.example';
    crd.spec.names = { kind: 'Gizmo', plural: 'gizmos', singular: 'gizmo' };
    crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.ports.items.anyOf = [
      { type: 'integer' },
      { type: 'string', pattern: '^[0-9]+-[0-9]+$' },
    ];
    const res = await api.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(res.status, 422);
    const field = (i: number) => `spec.validation.openAPIV3Schema.properties[spec].properties[ports].items.anyOf[${i}].type`;
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `CustomResourceDefinition.apiextensions.k8s.io "gizmos.wire.example" is invalid: [${field(0)}: Forbidden: must be empty to be structural, ${field(1)}: Forbidden: must be empty to be structural]`,
      reason: 'Invalid',
      details: {
        name: 'gizmos.wire.example',
        group: 'apiextensions.k8s.io',
        kind: 'CustomResourceDefinition',
        causes: [0, 1].map((i) => ({ reason: 'FieldValueForbidden', message: 'Forbidden: must be empty to be structural', field: field(i) })),
      },
      code: 422,
    });
  });

  it('refuses a CRD whose name is not plural.group', async () => {
    const crd = fixture('gadget-crd.json');
    crd.metadata.name = 'wrong.wire.example';
    const res = await api.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(res.status, 422);
    assert.deepEqual(
      res.body.details.causes.map((c: any) => c.field),
      ['metadata.name'],
    );
  });

  it('answers a CRD create before the controllers accept it: no conditions, no accepted names yet (capture 10)', async () => {
    const crd = fixture('gadget-crd.json');
    crd.metadata.name = 'doohickeys.wire.example';
    crd.spec.names = { kind: 'Doohickey', plural: 'doohickeys' };
    const res = await api.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.status, { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: ['v1alpha1'] });
    assert.equal(res.body.spec.names.singular, 'doohickey');
    assert.equal((await api.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/doohickeys.wire.example')).status, 200);
  });

  it('reports the CRD Established with NamesAccepted and accepted names (capture 11)', async () => {
    const res = await api.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.wire.example');
    assert.equal(res.status, 200);
    const conditions = Object.fromEntries(res.body.status.conditions.map((c: any) => [c.type, [c.status, c.reason]]));
    assert.deepEqual(conditions.Established, ['True', 'InitialNamesAccepted']);
    assert.deepEqual(conditions.NamesAccepted, ['True', 'NoConflicts']);
    assert.equal(res.body.status.acceptedNames.listKind, 'GadgetList');
    assert.deepEqual(res.body.status.storedVersions, ['v1alpha1']);
    assert.deepEqual(res.body.spec.conversion, { strategy: 'None' });
  });

  it('applies defaults, prunes unknown fields with a 299 warning, starts generation at 1 (capture 20)', async () => {
    const body = {
      ...gadget('g1', { max: 100, ports: [80, '8000-8100'], unknownField: 1, pressure: { warning: 70, critical: 90 } }),
      metadata: { name: 'g1', labels: { tier: 'edge' } },
    };
    const res = await api.request('POST', GADGETS, { body });
    assert.equal(res.status, 201);
    assert.equal(res.headers.warning, '299 - "unknown field \\"spec.unknownField\\""');
    assert.deepEqual(res.body.spec, { max: 100, mode: 'Enforce', ports: [80, '8000-8100'], pressure: { critical: 90, warning: 70 } });
    assert.equal(res.body.metadata.generation, 1);
    assert.deepEqual(Object.keys(res.body.metadata).sort(), ['creationTimestamp', 'generation', 'labels', 'managedFields', 'name', 'resourceVersion', 'uid']);
    assert.match(res.body.metadata.uid, /^[0-9a-f-]{36}$/);
    assert.match(res.body.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // A custom resource is unstructured JSON: keys come sorted.
    assert.deepEqual(Object.keys(res.body), ['apiVersion', 'kind', 'metadata', 'spec']);
  });

  it('answers a duplicate create with 409 AlreadyExists, still warning about the pruned field (capture 21)', async () => {
    const res = await api.request('POST', GADGETS, { body: gadget('g1', { max: 100, unknownField: 1 }) });
    assert.equal(res.status, 409);
    assert.equal(res.headers.warning, '299 - "unknown field \\"spec.unknownField\\""');
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'gadgets.wire.example "g1" already exists',
      reason: 'AlreadyExists',
      details: { name: 'g1', group: 'wire.example', kind: 'gadgets' },
      code: 409,
    });
  });

  it('refuses an unknown field under fieldValidation=Strict with 400 BadRequest (capture 99)', async () => {
    const res = await api.request('POST', `${GADGETS}?fieldValidation=Strict`, { body: gadget('g6', { max: 1, typo: 1 }) });
    assert.equal(res.status, 400);
    assert.equal(res.body.reason, 'BadRequest');
    assert.equal(res.body.message, 'Gadget in version "v1alpha1" cannot be handled as a Gadget: strict decoding error: unknown field "spec.typo"');
  });

  it('drops unknown fields silently under fieldValidation=Ignore', async () => {
    const res = await api.request('POST', `${GADGETS}?fieldValidation=Ignore`, { body: gadget('g7', { max: 1, typo: 1 }) });
    assert.equal(res.status, 201);
    assert.equal(res.headers.warning, undefined);
    assert.deepEqual(res.body.spec, { max: 1, mode: 'Enforce' });
  });

  it('reports every schema error at once and skips CEL after a blocking error (capture 22)', async () => {
    const res = await api.request('POST', GADGETS, { body: gadget('bad1', { max: 0, mode: 'Sometimes', ports: [80, 'x-y', 3, 4, 5] }) });
    assert.equal(res.status, 422);
    const skipped =
      'Invalid value: "null": some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';
    // kube-apiserver walks the properties of a schema in Go map order, so the errors of
    // spec.max, spec.mode and spec.ports come in any order (the skipped-rules note last).
    const { causes, ...rest } = res.body.details;
    assert.deepEqual(rest, { name: 'bad1', group: 'wire.example', kind: 'Gadget' });
    const byField = (a: any, b: any) => a.field.localeCompare(b.field);
    assert.deepEqual(causes.slice(0, 3).sort(byField), [
      { reason: 'FieldValueInvalid', message: 'Invalid value: 0: spec.max in body should be greater than or equal to 1', field: 'spec.max' },
      { reason: 'FieldValueNotSupported', message: 'Unsupported value: "Sometimes": supported values: "Enforce", "DryRun"', field: 'spec.mode' },
      { reason: 'FieldValueTooMany', message: 'Too many: 5: must have at most 4 items', field: 'spec.ports' },
    ]);
    assert.deepEqual(causes[3], { reason: 'FieldValueInvalid', message: skipped, field: '<nil>' });
    assert.equal(res.body.message, `Gadget.wire.example "bad1" is invalid: [${causes.map((c: any) => `${c.field}: ${c.message}`).join(', ')}]`);
  });

  it("uses a CEL rule message verbatim at the rule's field (capture 23)", async () => {
    const res = await api.request('POST', GADGETS, { body: gadget('bad2', { max: 5, pressure: { warning: 95, critical: 90 } }) });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Gadget.wire.example "bad2" is invalid: spec: Invalid value: "object": warning must be below critical',
      reason: 'Invalid',
      details: {
        name: 'bad2',
        group: 'wire.example',
        kind: 'Gadget',
        causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "object": warning must be below critical', field: 'spec' }],
      },
      code: 422,
    });
  });

  it('runs CEL rules on int-or-string list items with type() and matches()', async () => {
    const ok = await api.request('POST', GADGETS, { body: gadget('ports-ok', { max: 1, ports: [80, '8000-8100'] }) });
    assert.equal(ok.status, 201);
    const bad = await api.request('POST', GADGETS, { body: gadget('ports-bad', { max: 1, ports: [80, 'x-y'] }) });
    assert.equal(bad.status, 422);
    assert.deepEqual(
      bad.body.details.causes.map((c: any) => [c.field, c.message.endsWith('a port is a number or a range like 8000-8100')]),
      [['spec.ports[1]', true]],
    );
  });

  it('refuses a wrong type, which blocks the CEL rules', async () => {
    const res = await api.request('POST', GADGETS, { body: gadget('typed', { max: 'lots' }) });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.details.causes[0], {
      reason: 'FieldValueTypeInvalid',
      message: 'Invalid value: "string": spec.max in body must be of type integer: "string"',
      field: 'spec.max',
    });
    assert.equal(res.body.details.causes[1].field, '<nil>');
  });

  it('checks required, maximum, pattern, maxLength, minItems and list-type set', async () => {
    const res = await api.request('POST', WIDGETS, { body: widget('w-bad', { owner: 'toolongname', tags: [] }) });
    assert.equal(res.status, 422);
    const byField = Object.fromEntries(res.body.details.causes.map((c: any) => [c.field, [c.reason, c.message]]));
    assert.deepEqual(byField['spec.size'], ['FieldValueRequired', 'Required value']);
    assert.deepEqual(byField['spec.owner'], ['FieldValueTooLong', 'Too long: may not be more than 8 bytes']);
    assert.equal(byField['spec.tags']?.[0], 'FieldValueInvalid');
    const more = await api.request('POST', WIDGETS, { body: widget('w-bad2', { size: 11, owner: 'ab1', tags: ['a', 'a'] }) });
    assert.equal(more.status, 422);
    const causes = Object.fromEntries(more.body.details.causes.map((c: any) => [c.field, c.message]));
    assert.equal(causes['spec.size'], 'Invalid value: 11: spec.size in body should be less than or equal to 10');
    assert.equal(causes['spec.owner'], 'Invalid value: "ab1": spec.owner in body should match \'^[a-z]+$\'');
    assert.equal(causes['spec.tags[1]'], 'Duplicate value: "a"');
  });

  it('evaluates messageExpression, list macros, and transition rules only on update', async () => {
    const low = await api.request('POST', WIDGETS, { body: widget('w-limits', { size: 1, limits: { low: 5, high: 2 } }) });
    assert.equal(low.status, 422);
    assert.deepEqual(low.body.details.causes, [
      { reason: 'FieldValueInvalid', message: 'Invalid value: "object": low 5 exceeds high 2', field: 'spec.limits' },
    ]);
    const names = await api.request('POST', WIDGETS, { body: widget('w-names', { size: 1, names: ['ok', 'toolong'] }) });
    assert.equal(names.status, 422);
    assert.deepEqual(
      names.body.details.causes.map((c: any) => [c.field, c.message]),
      [['spec.names', 'Invalid value: "array": names must be at most 5 characters']],
    );

    const created = await api.request('POST', WIDGETS, { body: widget('w-class', { size: 1, class: 'gold' }) });
    assert.equal(created.status, 201);
    const changed = await api.request('PATCH', `${WIDGETS}/w-class`, { body: { spec: { class: 'silver' } }, contentType: 'application/merge-patch+json' });
    assert.equal(changed.status, 422);
    assert.deepEqual(changed.body.details.causes, [
      { reason: 'FieldValueInvalid', message: 'Invalid value: "string": class is immutable', field: 'spec.class' },
    ]);
    const same = await api.request('PATCH', `${WIDGETS}/w-class`, { body: { spec: { size: 2 } }, contentType: 'application/merge-patch+json' });
    assert.equal(same.status, 200);
  });

  it('keeps unknown fields under x-kubernetes-preserve-unknown-fields', async () => {
    const res = await api.request('POST', WIDGETS, { body: widget('w-extra', { size: 3, extra: { anything: { nested: [1, 'two'] } } }) });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.spec.extra, { anything: { nested: [1, 'two'] } });
    assert.equal(res.headers.warning, undefined);
  });

  it('stops serving the resource and deletes its objects when the CRD is deleted', async () => {
    const crd = fixture('widget-crd.json');
    crd.metadata.name = 'sprockets.conformance.example';
    crd.spec.names = { kind: 'Sprocket', plural: 'sprockets', singular: 'sprocket' };
    assert.equal((await createCrd(api, crd)).status, 201);
    const path = '/apis/conformance.example/v1/namespaces/default/sprockets';
    assert.equal(
      (await api.request('POST', path, { body: { apiVersion: 'conformance.example/v1', kind: 'Sprocket', metadata: { name: 's1' }, spec: { size: 1 } } }))
        .status,
      201,
    );
    assert.equal((await api.request('DELETE', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sprockets.conformance.example')).status, 200);
    const deadline = Date.now() + 20_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await api.request('GET', `${path}/s1`)).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 404);
    const discovery = await api.request('GET', '/apis/conformance.example/v1');
    assert.deepEqual(
      discovery.body.resources.map((r: any) => r.name).filter((n: string) => n.startsWith('sprockets')),
      [],
    );
  });
});

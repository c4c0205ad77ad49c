// Object reads and writes, compared with captures 31/32 (selectors), 40 (conflict), 41-46
// (patches, generation, status subresource, server-side apply), 80-83 (finalizers),
// 92-94 (nodes, limit, NotFound).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, REAL_SERVER_ONLY, startApi, type TestApi } from '../support/kube/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const GADGETS = '/apis/wire.example/v1alpha1/gadgets';
const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

describe('object reads and writes', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
  });
  after(() => api?.stop());

  const createGadget = async (name: string, spec: Record<string, unknown> = { max: 100 }, labels?: Record<string, string>) => {
    const res = await api.request('POST', GADGETS, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name, ...(labels ? { labels } : {}) }, spec },
    });
    assert.equal(res.status, 201, res.text);
    return res.body;
  };

  it('answers a missing object with 404 NotFound naming the resource (captures 94, 83)', async () => {
    const node = await api.request('GET', '/api/v1/nodes/nope');
    assert.equal(node.status, 404);
    assert.deepEqual(node.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nodes "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'nodes' },
      code: 404,
    });
    const gadget = await api.request('GET', `${GADGETS}/g-missing`);
    assert.deepEqual(gadget.body.details, { name: 'g-missing', group: 'wire.example', kind: 'gadgets' });
    assert.equal(gadget.body.message, 'gadgets.wire.example "g-missing" not found');
  });

  it('creates a Node with the admission taint and zero-valued status (capture 92)', async () => {
    const res = await api.request('POST', '/api/v1/nodes', {
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'node-role.kubernetes.io/web': '' } } },
    });
    assert.equal(res.status, 201);
    assert.deepEqual(Object.keys(res.body), ['kind', 'apiVersion', 'metadata', 'spec', 'status']);
    assert.deepEqual(res.body.spec.taints, [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }]);
    assert.equal(res.body.metadata.generation, undefined);
    assert.deepEqual(res.body.status.daemonEndpoints, { kubeletEndpoint: { Port: 0 } });
  });

  it('pages a list with limit and continue; built-in list items carry no kind (capture 93)', async () => {
    for (const name of ['node-b', 'node-c']) {
      assert.equal((await api.request('POST', '/api/v1/nodes', { body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } })).status, 201);
    }
    const first = await api.request('GET', '/api/v1/nodes?limit=2');
    assert.equal(first.status, 200);
    assert.equal(first.body.kind, 'NodeList');
    assert.equal(first.body.apiVersion, 'v1');
    assert.deepEqual(
      first.body.items.map((n: any) => n.metadata.name),
      ['node-a', 'node-b'],
    );
    assert.equal(first.body.items[0].kind, undefined);
    assert.equal(first.body.metadata.remainingItemCount, 1);
    const second = await api.request('GET', `/api/v1/nodes?limit=2&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    assert.deepEqual(
      second.body.items.map((n: any) => n.metadata.name),
      ['node-c'],
    );
    assert.equal(second.body.metadata.continue, undefined);
  });

  it('filters by labelSelector and fieldSelector; CR lists carry kind per item and an empty continue (captures 31, 32)', async () => {
    await createGadget('sel-edge', { max: 1 }, { tier: 'edge' });
    await createGadget('sel-core', { max: 1 }, { tier: 'core' });
    const byLabel = await api.request('GET', `${GADGETS}?labelSelector=${encodeURIComponent('tier=edge')}`);
    assert.deepEqual(
      byLabel.body.items.map((g: any) => g.metadata.name),
      ['sel-edge'],
    );
    assert.equal(byLabel.body.kind, 'GadgetList');
    assert.equal(byLabel.body.items[0].kind, 'Gadget');
    assert.equal(byLabel.body.metadata.continue, '');
    const setBased = await api.request('GET', `${GADGETS}?labelSelector=${encodeURIComponent('tier in (edge,core),tier!=core')}`);
    assert.deepEqual(
      setBased.body.items.map((g: any) => g.metadata.name),
      ['sel-edge'],
    );
    const byField = await api.request('GET', `${GADGETS}?fieldSelector=${encodeURIComponent('metadata.name=sel-core')}`);
    assert.deepEqual(
      byField.body.items.map((g: any) => g.metadata.name),
      ['sel-core'],
    );
    const unsupported = await api.request('GET', `${GADGETS}?fieldSelector=${encodeURIComponent('spec.max=1')}`);
    assert.equal(unsupported.status, 400);
    assert.equal(unsupported.body.reason, 'BadRequest');
  });

  it('refuses an update with a stale resourceVersion with 409 Conflict (capture 40)', async () => {
    await createGadget('conflict');
    const res = await api.request('PUT', `${GADGETS}/conflict`, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'conflict', resourceVersion: '1' }, spec: { max: 5 } },
    });
    assert.equal(res.status, 409);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'Operation cannot be fulfilled on gadgets.wire.example "conflict": the object has been modified; please apply your changes to the latest version and try again',
      reason: 'Conflict',
      details: { name: 'conflict', group: 'wire.example', kind: 'gadgets' },
      code: 409,
    });
  });

  it('updates with the current resourceVersion, bumping generation for a spec change', async () => {
    const created = await createGadget('put-me');
    const res = await api.request('PUT', `${GADGETS}/put-me`, { body: { ...created, spec: { max: 6 } } });
    assert.equal(res.status, 200);
    assert.equal(res.body.metadata.generation, 2);
    assert.deepEqual(res.body.spec, { max: 6, mode: 'Enforce' });
    assert.notEqual(res.body.metadata.resourceVersion, created.metadata.resourceVersion);
  });

  it('bumps generation on spec patches only; /status ignores spec; the main resource ignores status (captures 41-43)', async () => {
    const created = await createGadget('gen', { max: 100 });
    const spec = await api.request('PATCH', `${GADGETS}/gen`, { body: { spec: { max: 200 } }, contentType: MERGE });
    assert.equal(spec.status, 200);
    assert.equal(spec.body.metadata.generation, 2);
    assert.equal(Number(spec.body.metadata.resourceVersion) > Number(created.metadata.resourceVersion), true);

    const status = await api.request('PATCH', `${GADGETS}/gen/status`, {
      body: {
        status: {
          usagePercent: 42,
          conditions: [
            { type: 'Applied', status: 'True', reason: 'AsExpected', message: 'ok', lastTransitionTime: '2026-11-22T04:00:00Z', observedGeneration: 2 },
          ],
        },
        spec: { max: 999 },
      },
      contentType: MERGE,
    });
    assert.equal(status.status, 200);
    assert.equal(status.body.spec.max, 200);
    assert.equal(status.body.status.usagePercent, 42);
    assert.equal(status.body.metadata.generation, 2);

    const ignored = await api.request('PATCH', `${GADGETS}/gen`, { body: { status: { usagePercent: 99 } }, contentType: MERGE });
    assert.equal(ignored.status, 200);
    assert.equal(ignored.body.status.usagePercent, 42);
    assert.equal(ignored.body.metadata.resourceVersion, status.body.metadata.resourceVersion, 'a no-op write keeps the resourceVersion');

    const labels = await api.request('PATCH', `${GADGETS}/gen`, { body: { metadata: { labels: { a: 'b' } } }, contentType: MERGE });
    assert.equal(labels.body.metadata.generation, 2, 'metadata changes do not bump generation');
  });

  it('applies JSON patch: a spec replace bumps generation, a failed test op refuses the whole patch (capture 44)', async (t) => {
    if (api.kind === 'in-process') return t.skip(REAL_SERVER_ONLY);
    const created = await createGadget('jp');
    const json = await api.request('PATCH', `${GADGETS}/jp`, { body: [{ op: 'replace', path: '/spec/max', value: 300 }], contentType: JSON_PATCH });
    assert.equal(json.status, 200);
    assert.deepEqual([json.body.spec.max, json.body.metadata.generation], [300, created.metadata.generation + 1]);
    const test = await api.request('PATCH', `${GADGETS}/jp`, {
      body: [
        { op: 'test', path: '/spec/max', value: 1 },
        { op: 'replace', path: '/spec/max', value: 2 },
      ],
      contentType: JSON_PATCH,
    });
    assert.equal(test.status, 422);
    assert.equal((await api.request('GET', `${GADGETS}/jp`)).body.spec.max, 300);
  });

  it('refuses a patch with a stale resourceVersion with 409 Conflict', async () => {
    await createGadget('stale');
    const stale = await api.request('PATCH', `${GADGETS}/stale`, { body: { metadata: { resourceVersion: '1' }, spec: { max: 2 } }, contentType: MERGE });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
  });

  it('refuses a custom resource of another kind as invalid, naming that kind', async () => {
    const res = await api.request('POST', GADGETS, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Other', metadata: { name: 'other' }, spec: { max: 1 } },
    });
    assert.equal(res.status, 422);
    assert.equal(res.body.message, 'Other.wire.example "other" is invalid: kind: Invalid value: "Other": must be Gadget');
    assert.deepEqual(res.body.details.causes, [{ reason: 'FieldValueInvalid', message: 'Invalid value: "Other": must be Gadget', field: 'kind' }]);
  });

  it('refuses strategic merge patch on a custom resource with 415', async () => {
    await createGadget('smp');
    const res = await api.request('PATCH', `${GADGETS}/smp`, { body: { spec: { max: 2 } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(res.status, 415);
    assert.equal(res.body.reason, 'UnsupportedMediaType');
  });

  it('creates through server-side apply with the field manager, and drops fields the manager stops applying (capture 45)', async () => {
    const apply = (spec: string) =>
      api.request('PATCH', `${GADGETS}/ssa?fieldManager=conntrack-agent&force=true`, {
        body: `apiVersion: wire.example/v1alpha1\nkind: Gadget\nmetadata:\n  name: ssa\nspec:\n${spec}`,
        contentType: 'application/apply-patch+yaml',
      });
    const created = await apply('  max: 7\n  ports: [80]\n');
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.spec, { max: 7, mode: 'Enforce', ports: [80] });
    const entry = created.body.metadata.managedFields.find((m: any) => m.manager === 'conntrack-agent');
    assert.equal(entry.operation, 'Apply');
    assert.deepEqual(entry.fieldsV1['f:spec']['f:max'], {});
    const reapplied = await apply('  max: 8\n');
    assert.equal(reapplied.status, 200);
    assert.equal(reapplied.body.spec.max, 8);
    assert.equal(reapplied.body.spec.ports, undefined);
    assert.equal(reapplied.body.metadata.generation, 2);
  });

  it('keeps an object with finalizers until they are removed (captures 80-83)', async () => {
    const created = await api.request('POST', GADGETS, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'g3', finalizers: ['wire.example/cleanup'] }, spec: { max: 1 } },
    });
    assert.equal(created.status, 201);
    const deleted = await api.request('DELETE', `${GADGETS}/g3`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.body.kind, 'Gadget');
    assert.ok(deleted.body.metadata.deletionTimestamp);
    assert.equal(deleted.body.metadata.deletionGracePeriodSeconds, 0);
    assert.equal(deleted.body.metadata.generation, 2);
    const terminating = await api.request('GET', `${GADGETS}/g3`);
    assert.equal(terminating.status, 200);
    assert.deepEqual(terminating.body.metadata.finalizers, ['wire.example/cleanup']);
    const added = await api.request('PATCH', `${GADGETS}/g3`, { body: { metadata: { finalizers: ['wire.example/cleanup', 'other/x'] } }, contentType: MERGE });
    assert.equal(added.status, 422);
    assert.equal(added.body.details.causes[0].field, 'metadata.finalizers');
    const removed = await api.request('PATCH', `${GADGETS}/g3`, { body: { metadata: { finalizers: null } }, contentType: MERGE });
    assert.equal(removed.status, 200);
    assert.equal(removed.body.metadata.finalizers, undefined);
    const gone = await api.request('GET', `${GADGETS}/g3`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.message, 'gadgets.wire.example "g3" not found');
  });

  it('answers a completed delete of a custom resource with a Success Status', async () => {
    const created = await createGadget('plain-delete');
    const res = await api.request('DELETE', `${GADGETS}/plain-delete`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name: 'plain-delete', group: 'wire.example', kind: 'gadgets', uid: created.metadata.uid },
    });
    const wrongUid = await createGadget('precondition');
    const refused = await api.request('DELETE', `${GADGETS}/precondition`, { body: { preconditions: { uid: 'not-the-uid' } } });
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Operation cannot be fulfilled on Gadget.wire.example "precondition": the UID in the precondition (not-the-uid) does not match the UID in record (${wrongUid.metadata.uid}). The object might have been deleted and then recreated`,
      reason: 'Conflict',
      details: { name: 'precondition', group: 'wire.example', kind: 'Gadget' },
      code: 409,
    });
    const staleRv = await api.request('DELETE', `${GADGETS}/precondition`, { body: { preconditions: { resourceVersion: '1' } } });
    assert.equal(
      staleRv.body.message,
      `Operation cannot be fulfilled on Gadget.wire.example "precondition": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record (${wrongUid.metadata.resourceVersion}). The object might have been modified`,
    );
  });

  it('generates names from generateName and validates names', async () => {
    const res = await api.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'cfg-' }, data: { a: 'b' } },
    });
    assert.equal(res.status, 201);
    assert.match(res.body.metadata.name, /^cfg-[a-z0-9]{5}$/);
    const bad = await api.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'Bad_Name' } },
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.details.causes[0].field, 'metadata.name');
    assert.match(bad.body.details.causes[0].message, /^Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);
    const missing = await api.request('POST', '/api/v1/namespaces/default/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} } });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.details.causes[0], {
      reason: 'FieldValueRequired',
      message: 'Required value: name or generateName is required',
      field: 'metadata.name',
    });
  });

  it('routes namespaced and cluster-scoped resources and refuses a missing namespace', async () => {
    const noNs = await api.request('POST', '/api/v1/namespaces/does-not-exist/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } },
    });
    assert.equal(noNs.status, 404);
    assert.equal(noNs.body.message, 'namespaces "does-not-exist" not found');
    const mismatch = await api.request('POST', '/api/v1/namespaces/default/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'kube-system' } },
    });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.message, 'the namespace of the provided object does not match the namespace sent on the request');
    const ns = await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } } });
    assert.equal(ns.status, 201);
    assert.equal(ns.body.status.phase, 'Active');
    assert.equal(ns.body.metadata.labels['kubernetes.io/metadata.name'], 'team-a');
    assert.equal(
      (await api.request('POST', '/api/v1/namespaces/team-a/configmaps', { body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } } })).status,
      201,
    );
    const all = await api.request('GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dteam-a');
    assert.deepEqual(
      all.body.items.map((c: any) => `${c.metadata.namespace}/${c.metadata.name}`),
      ['team-a/x'],
    );
    const other = await api.request('GET', '/api/v1/namespaces/default/configmaps/x');
    assert.equal(other.status, 404);
  });

  it('validates ownerReferences and stores them without collecting anything', async () => {
    const node = await api.request('GET', '/api/v1/nodes/node-a');
    const owner = { apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: node.body.metadata.uid, controller: true };
    const ok = await api.request('POST', GADGETS, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'owned', ownerReferences: [owner] }, spec: { max: 1 } },
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(ok.body.metadata.ownerReferences, [owner]);
    const bad = await api.request('POST', GADGETS, {
      body: {
        apiVersion: 'wire.example/v1alpha1',
        kind: 'Gadget',
        metadata: { name: 'badowner', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: '' }] },
        spec: { max: 1 },
      },
    });
    assert.equal(bad.status, 422);
    assert.deepEqual(
      bad.body.details.causes.map((c: any) => [c.field, c.message]),
      [['metadata.ownerReferences.uid', 'Invalid value: "": uid must not be empty']],
    );
  });

  it('merges built-in lists by key under strategic merge patch', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }] },
              { name: 'side', image: 'side:1' },
            ],
          },
        },
      },
    };
    const created = await api.request('POST', '/apis/apps/v1/namespaces/default/deployments', { body: deployment });
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.generation, 1);
    const patch = { spec: { template: { spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: '2' }] }] } } } };
    const res = await api.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/web', {
      body: patch,
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(res.status, 200);
    const containers = res.body.spec.template.spec.containers;
    assert.deepEqual(
      containers.map((c: any) => [c.name, c.image]),
      [
        ['app', 'app:2'],
        ['side', 'side:1'],
      ],
    );
    // The patch's items come first unless the live order puts a live-only item before one of them.
    assert.deepEqual(
      containers[0].env.map((e: any) => e.name),
      ['B', 'A'],
    );
    assert.equal(res.body.metadata.generation, 2);
    const merge = await api.request('PATCH', '/apis/apps/v1/namespaces/default/deployments/web', { body: patch, contentType: MERGE });
    assert.deepEqual(
      merge.body.spec.template.spec.containers.map((c: any) => c.name),
      ['app'],
      'a merge patch replaces lists',
    );
  });

  it('takes a Lease the way leader election does: update with the resourceVersion, conflict for the loser', async () => {
    const path = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';
    const lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'conntrack-operator' },
      spec: { holderIdentity: 'node-a', leaseDurationSeconds: 15, acquireTime: '2026-11-22T04:00:00.000000Z', renewTime: '2026-11-22T04:00:00.000000Z' },
    };
    const created = await api.request('POST', path, { body: lease });
    assert.equal(created.status, 201);
    const takeOver = (holder: string) =>
      api.request('PUT', `${path}/conntrack-operator`, { body: { ...created.body, spec: { ...created.body.spec, holderIdentity: holder } } });
    const winner = await takeOver('node-b');
    assert.equal(winner.status, 200);
    assert.equal(winner.body.spec.holderIdentity, 'node-b');
    const loser = await takeOver('node-c');
    assert.equal(loser.status, 409);
    assert.equal(
      loser.body.message,
      'Operation cannot be fulfilled on leases.coordination.k8s.io "conntrack-operator": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  it("stores the chart's kinds: ServiceAccount, DaemonSet, Service, RBAC, ValidatingAdmissionPolicy", async () => {
    const objects: [string, Record<string, unknown>][] = [
      ['/api/v1/namespaces/default/serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'agent' } }],
      [
        '/apis/apps/v1/namespaces/default/daemonsets',
        {
          apiVersion: 'apps/v1',
          kind: 'DaemonSet',
          metadata: { name: 'agent' },
          spec: {
            selector: { matchLabels: { app: 'agent' } },
            template: { metadata: { labels: { app: 'agent' } }, spec: { containers: [{ name: 'agent', image: 'agent:1' }] } },
          },
        },
      ],
      [
        '/api/v1/namespaces/default/services',
        { apiVersion: 'v1', kind: 'Service', metadata: { name: 'metrics' }, spec: { ports: [{ name: 'metrics', port: 9100 }], selector: { app: 'agent' } } },
      ],
      [
        '/apis/rbac.authorization.k8s.io/v1/clusterroles',
        { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'conntrack:agent' }, rules: [] },
      ],
      [
        '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies',
        {
          apiVersion: 'admissionregistration.k8s.io/v1',
          kind: 'ValidatingAdmissionPolicy',
          metadata: { name: 'policy' },
          spec: {
            matchConstraints: {
              resourceRules: [{ apiGroups: ['conntrack.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE'], resources: ['conntrackpolicies'] }],
            },
            validations: [{ expression: 'true' }],
          },
        },
      ],
    ];
    for (const [path, body] of objects) {
      const res = await api.request('POST', path, { body });
      assert.equal(res.status, 201, `${path}: ${res.text}`);
      const name = (body.metadata as { name: string }).name;
      assert.equal((await api.request('GET', `${path}/${name}`)).status, 200);
    }
    const bare = await api.request('POST', '/api/v1/namespaces/default/serviceaccounts', {
      body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'bare' } },
    });
    assert.equal(bare.status, 201);
    assert.equal(bare.body.metadata.managedFields, undefined, 'a manager that set no field gets no managedFields entry');
    const unmatched = await api.request('POST', '/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies', {
      body: { apiVersion: 'admissionregistration.k8s.io/v1', kind: 'ValidatingAdmissionPolicy', metadata: { name: 'empty' }, spec: {} },
    });
    assert.equal(unmatched.status, 422);
    const detail = 'Required value: validations or auditAnnotations must contain at least one item';
    assert.deepEqual(
      unmatched.body.details.causes.map((c: any) => [c.field, c.message]),
      [
        ['spec.matchConstraints', 'Required value'],
        ['spec.validations', detail],
        ['spec.auditAnnotations', detail],
      ],
    );
  });

  it('leaves a deleted namespace Terminating, as a cluster without a namespace controller does', async () => {
    assert.equal(
      (await api.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } } })).status,
      201,
    );
    const deleted = await api.request('DELETE', '/api/v1/namespaces/doomed');
    assert.equal(deleted.status, 200);
    const got = await api.request('GET', '/api/v1/namespaces/doomed');
    assert.equal(got.status, 200);
    assert.equal(got.body.status.phase, 'Terminating');
    assert.ok(got.body.metadata.deletionTimestamp);
    const refused = await api.request('POST', '/api/v1/namespaces/doomed/configmaps', {
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } },
    });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.message, 'configmaps "late" is forbidden: unable to create new content in namespace doomed because it is being terminated');
    assert.deepEqual(refused.body.details.causes, [
      { reason: 'NamespaceTerminating', message: 'namespace doomed is being terminated', field: 'metadata.namespace' },
    ]);
  });

  it('deletes a collection by label selector and leaves the rest', async () => {
    await createGadget('dc-1', { max: 1 }, { batch: 'dc' });
    await createGadget('dc-2', { max: 1 }, { batch: 'dc' });
    await createGadget('dc-keep', { max: 1 }, { batch: 'keep' });
    const res = await api.request('DELETE', `${GADGETS}?labelSelector=batch%3Ddc`);
    assert.equal(res.status, 200);
    const left = await api.request('GET', `${GADGETS}?labelSelector=${encodeURIComponent('batch in (dc,keep)')}`);
    assert.deepEqual(
      left.body.items.map((g: any) => g.metadata.name),
      ['dc-keep'],
    );
  });

  it('validates but does not persist under dryRun=All', async () => {
    const res = await api.request('POST', `${GADGETS}?dryRun=All`, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'dry' }, spec: { max: 1 } },
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.spec.mode, 'Enforce');
    assert.equal((await api.request('GET', `${GADGETS}/dry`)).status, 404);
    const invalid = await api.request('POST', `${GADGETS}?dryRun=All`, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'dry' }, spec: { max: 0 } },
    });
    assert.equal(invalid.status, 422);
  });

  it('without a status subresource, status is written through the main resource and bumps generation', async () => {
    const crd = fixture('gadget-crd.json');
    crd.metadata.name = 'plains.wire.example';
    crd.spec.names = { kind: 'Plain', plural: 'plains', singular: 'plain' };
    delete crd.spec.versions[0].subresources;
    assert.equal((await createCrd(api, crd)).status, 201);
    const path = '/apis/wire.example/v1alpha1/plains';
    const created = await api.request('POST', path, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Plain', metadata: { name: 'p1' }, spec: { max: 1 }, status: { usagePercent: 1 } },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.status.usagePercent, 1);
    const patched = await api.request('PATCH', `${path}/p1`, { body: { status: { usagePercent: 2 } }, contentType: MERGE });
    assert.deepEqual([patched.body.status.usagePercent, patched.body.metadata.generation], [2, 2]);
    assert.equal((await api.request('GET', `${path}/p1/status`)).status, 404);
  });

  it('drops unknown fields of built-ins with a warning, and refuses them under fieldValidation=Strict', async () => {
    const ds = (name: string) => ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'agent', image: 'agent:1', imagee: 'typo' }] } },
      },
    });
    const strict = await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets?fieldValidation=Strict', { body: ds('strict') });
    assert.equal(strict.status, 400);
    assert.equal(
      strict.body.message,
      'DaemonSet in version "v1" cannot be handled as a DaemonSet: strict decoding error: unknown field "spec.template.spec.containers[0].imagee"',
    );
    const warned = await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets', { body: ds('warned') });
    assert.equal(warned.status, 201);
    assert.equal(warned.headers.warning, '299 - "unknown field \\"spec.template.spec.containers[0].imagee\\""');
    // Stored with the pod template's defaults, as every DaemonSet is.
    assert.deepEqual(warned.body.spec.template.spec.containers[0], {
      name: 'agent',
      image: 'agent:1',
      resources: {},
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      imagePullPolicy: 'IfNotPresent',
    });
  });

  it("refuses a wrong JSON type in a built-in's string or bool field with Go's decoding error", async () => {
    const ds = (name: string, container: Record<string, unknown>, labels: Record<string, unknown> = {}) => ({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, labels },
      spec: {
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'agent', ...container }] } },
      },
    });
    const cases: [Record<string, unknown>, string][] = [
      [ds('image', { image: 5 }), 'json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string'],
      [ds('label', { image: 'a:1' }, { on: true }), 'json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string'],
      [
        ds('stdin', { image: 'a:1', stdin: 'yes' }),
        'json: cannot unmarshal string into Go struct field Container.spec.template.spec.containers.stdin of type bool',
      ],
    ];
    for (const [body, detail] of cases) {
      const res = await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets', { body });
      assert.deepEqual(
        [res.status, res.body.reason, res.body.message],
        [400, 'BadRequest', `DaemonSet in version "v1" cannot be handled as a DaemonSet: ${detail}`],
      );
    }
    const quantity = ds('quantity', { image: 'a:1', resources: { limits: { cpu: 1 } } });
    assert.equal((await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets', { body: quantity })).status, 201, 'a Quantity takes a number');
  });

  it('refuses a DaemonSet without a matching selector or container image', async () => {
    const res = await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets', {
      body: {
        apiVersion: 'apps/v1',
        kind: 'DaemonSet',
        metadata: { name: 'broken' },
        spec: { selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'b' } }, spec: { containers: [{ name: 'agent' }] } } },
      },
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.details.causes, [
      {
        reason: 'FieldValueInvalid',
        message: 'Invalid value: map[string]string{"app":"b"}: `selector` does not match template `labels`',
        field: 'spec.template.metadata.labels',
      },
      { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.template.spec.containers[0].image' },
    ]);
    assert.equal(res.body.details.kind, 'DaemonSet');
    assert.equal(res.body.details.group, 'apps');
  });
});

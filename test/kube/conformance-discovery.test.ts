// Discovery, OpenAPI v3 and Table output, compared with captures 01-05 and 12
// (discovery), 90/91 (OpenAPI) and 30 (Table with printer columns).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const AGGREGATED =
  'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

describe('discovery, OpenAPI and tables', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
  });
  after(() => api?.stop());

  it('serves /version, /api and /apis (captures 01-03)', async () => {
    const version = await api.request('GET', '/version');
    assert.equal(version.status, 200);
    assert.match(version.body.gitVersion, /^v1\.\d+\.\d+/);
    assert.deepEqual(Object.keys(version.body).slice(0, 3), ['major', 'minor', 'gitVersion']);
    const core = await api.request('GET', '/api');
    assert.equal(core.body.kind, 'APIVersions');
    assert.deepEqual(core.body.versions, ['v1']);
    assert.equal(core.body.serverAddressByClientCIDRs[0].clientCIDR, '0.0.0.0/0');
    const groups = await api.request('GET', '/apis');
    assert.equal(groups.body.kind, 'APIGroupList');
    const names = groups.body.groups.map((g: any) => g.name);
    for (const group of ['apps', 'coordination.k8s.io', 'events.k8s.io', 'rbac.authorization.k8s.io', 'apiextensions.k8s.io', 'wire.example'])
      assert.ok(names.includes(group), group);
    const wire = groups.body.groups.find((g: any) => g.name === 'wire.example');
    assert.deepEqual(wire, {
      name: 'wire.example',
      versions: [{ groupVersion: 'wire.example/v1alpha1', version: 'v1alpha1' }],
      preferredVersion: { groupVersion: 'wire.example/v1alpha1', version: 'v1alpha1' },
    });
  });

  it('lists the core resources with verbs, short names and scope (capture 04)', async () => {
    const res = await api.request('GET', '/api/v1');
    assert.equal(res.body.kind, 'APIResourceList');
    assert.equal(res.body.groupVersion, 'v1');
    const byName = Object.fromEntries(res.body.resources.map((r: any) => [r.name, r]));
    assert.deepEqual([byName.events.namespaced, byName.events.kind, byName.events.shortNames], [true, 'Event', ['ev']]);
    assert.deepEqual(byName.events.verbs, ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']);
    assert.equal(byName.nodes.namespaced, false);
    assert.deepEqual(byName['nodes/status'].verbs, ['get', 'patch', 'update']);
    assert.ok(byName.configmaps && byName.namespaces && byName.serviceaccounts && byName.services);
  });

  it("lists a CRD group with the CRD's verb order and the status subresource (capture 12)", async () => {
    const res = await api.request('GET', '/apis/wire.example/v1alpha1');
    assert.equal(res.status, 200);
    const [main, status] = res.body.resources;
    assert.deepEqual(
      { ...main, storageVersionHash: undefined },
      {
        name: 'gadgets',
        singularName: 'gadget',
        namespaced: false,
        kind: 'Gadget',
        verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
        shortNames: ['gd'],
        categories: ['wire'],
        storageVersionHash: undefined,
      },
    );
    assert.deepEqual(status, { name: 'gadgets/status', singularName: '', namespaced: false, kind: 'Gadget', verbs: ['get', 'patch', 'update'] });
    const group = await api.request('GET', '/apis/wire.example');
    assert.equal(group.body.kind, 'APIGroup');
    assert.equal((await api.request('GET', '/apis/nothing.example/v1')).status, 404);
  });

  it('serves aggregated discovery v2 when asked, as kubectl 1.33 does (capture 05)', async () => {
    const res = await api.request('GET', '/apis', { accept: AGGREGATED });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    assert.equal(res.body.kind, 'APIGroupDiscoveryList');
    assert.equal(res.body.apiVersion, 'apidiscovery.k8s.io/v2');
    const wire = res.body.items.find((i: any) => i.metadata.name === 'wire.example');
    assert.deepEqual(wire.versions[0].resources[0], {
      resource: 'gadgets',
      responseKind: { group: 'wire.example', version: 'v1alpha1', kind: 'Gadget' },
      scope: 'Cluster',
      singularResource: 'gadget',
      verbs: ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'],
      shortNames: ['gd'],
      categories: ['wire'],
      subresources: [
        { subresource: 'status', responseKind: { group: 'wire.example', version: 'v1alpha1', kind: 'Gadget' }, verbs: ['get', 'patch', 'update'] },
      ],
    });
    assert.equal(wire.versions[0].freshness, 'Current');
    const apps = res.body.items.find((i: any) => i.metadata.name === 'apps');
    const ds = apps.versions[0].resources.find((r: any) => r.resource === 'daemonsets');
    assert.deepEqual([ds.responseKind, ds.scope, ds.shortNames], [{ group: '', version: '', kind: 'DaemonSet' }, 'Namespaced', ['ds']]);
    const core = await api.request('GET', '/api', { accept: AGGREGATED });
    assert.equal(core.body.kind, 'APIGroupDiscoveryList');
    assert.ok(core.body.items[0].versions[0].resources.some((r: any) => r.resource === 'nodes'));
  });

  it('answers a group nobody serves with Go\'s plain "404 page not found", an unknown version of a served group with a Status', async () => {
    for (const path of ['/apis/nope.example/v1/things', '/apis/nope.example', '/nonsense']) {
      const res = await api.request('GET', path);
      assert.deepEqual([res.status, res.headers['content-type'], res.text], [404, 'text/plain; charset=utf-8', '404 page not found\n'], path);
    }
    const openapi = await api.request('GET', '/openapi/v3/apis/nope.example/v1');
    assert.deepEqual([openapi.status, openapi.text], [404, '']);
    for (const path of ['/apis/apps/v9/daemonsets', '/api/v1/nosuch']) {
      const res = await api.request('GET', path);
      assert.deepEqual([res.status, res.body.reason, res.body.message], [404, 'NotFound', 'the server could not find the requested resource'], path);
    }
  });

  it('indexes OpenAPI v3 by group/version with hashes and serves the CRD schema with its GVK (captures 90, 91)', async () => {
    // kube-apiserver publishes a new CRD's OpenAPI a moment after it is Established.
    const deadline = Date.now() + 10_000;
    let index = await api.request('GET', '/openapi/v3');
    while (!index.body?.paths?.['apis/wire.example/v1alpha1'] && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      index = await api.request('GET', '/openapi/v3');
    }
    assert.equal(index.status, 200);
    const entry = index.body.paths['apis/wire.example/v1alpha1'];
    assert.match(entry.serverRelativeURL, /^\/openapi\/v3\/apis\/wire\.example\/v1alpha1\?hash=[0-9A-F]{128}$/);
    const doc = await api.request('GET', entry.serverRelativeURL);
    assert.equal(doc.status, 200);
    const schema = doc.body.components.schemas['example.wire.v1alpha1.Gadget'];
    assert.deepEqual(schema['x-kubernetes-group-version-kind'], [{ group: 'wire.example', kind: 'Gadget', version: 'v1alpha1' }]);
    assert.deepEqual(schema.properties.spec.properties.mode.enum, ['Enforce', 'DryRun']);
    assert.deepEqual(schema.properties.metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
    assert.ok(doc.body.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
    const patch = doc.body.paths['/apis/wire.example/v1alpha1/gadgets/{name}'].patch;
    assert.ok(JSON.stringify(patch).includes('"fieldValidation"'), 'PATCH declares fieldValidation, so kubectl validates on the server');
  });

  it('renders a Table with the CRD printer columns, null for a missing path, PartialObjectMetadata rows (capture 30)', async () => {
    await api.request('POST', '/apis/wire.example/v1alpha1/gadgets', {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'g1', labels: { tier: 'edge' } }, spec: { max: 1 } },
    });
    const res = await api.request('GET', '/apis/wire.example/v1alpha1/gadgets?limit=500', { accept: TABLE });
    assert.equal(res.status, 200);
    assert.equal(res.body.kind, 'Table');
    assert.equal(res.body.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(
      res.body.columnDefinitions.map((c: any) => [c.name, c.type, c.format, c.priority]),
      [
        ['Name', 'string', 'name', 0],
        ['Mode', 'string', '', 0],
        ['Usage', 'integer', '', 0],
        ['Age', 'date', '', 0],
      ],
    );
    assert.equal(res.body.columnDefinitions[1].description, 'Custom resource definition column (in JSONPath format): .spec.mode');
    const [row] = res.body.rows;
    assert.deepEqual(row.cells.slice(0, 3), ['g1', 'Enforce', null]);
    assert.match(row.cells[3], /^\d+s$/);
    assert.equal(row.object.kind, 'PartialObjectMetadata');
    assert.equal(row.object.apiVersion, 'meta.k8s.io/v1');
    assert.deepEqual(row.object.metadata.labels, { tier: 'edge' });
    assert.equal(row.object.spec, undefined);
    const withStatus = await api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1/status', {
      body: { status: { usagePercent: 42 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(withStatus.status, 200);
    const single = await api.request('GET', '/apis/wire.example/v1alpha1/gadgets/g1', { accept: TABLE });
    assert.equal(single.body.rows.length, 1);
    assert.equal(single.body.rows[0].cells[2], 42);
  });

  it('renders Nodes with Status, Roles, Age and Version columns', async () => {
    await api.request('POST', '/api/v1/nodes', {
      body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', labels: { 'node-role.kubernetes.io/web': '' } } },
    });
    const res = await api.request('GET', '/api/v1/nodes', { accept: TABLE });
    assert.deepEqual(
      res.body.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name),
      ['Name', 'Status', 'Roles', 'Age', 'Version'],
    );
    assert.deepEqual(res.body.rows[0].cells.slice(0, 3), ['node-a', 'Unknown', 'web']);
  });

  it('renders DaemonSets with their rollout columns and CRDs with Created At', async () => {
    const ds = {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'agent' },
      spec: {
        selector: { matchLabels: { app: 'agent' } },
        template: {
          metadata: { labels: { app: 'agent' } },
          spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'agent', image: 'agent:1' }] },
        },
      },
    };
    assert.equal((await api.request('POST', '/apis/apps/v1/namespaces/default/daemonsets', { body: ds })).status, 201);
    const res = await api.request('GET', '/apis/apps/v1/namespaces/default/daemonsets', { accept: TABLE });
    assert.deepEqual(
      res.body.columnDefinitions.map((c: any) => [c.name, c.priority]),
      [
        ['Name', 0],
        ['Desired', 0],
        ['Current', 0],
        ['Ready', 0],
        ['Up-to-date', 0],
        ['Available', 0],
        ['Node Selector', 0],
        ['Age', 0],
        ['Containers', 1],
        ['Images', 1],
        ['Selector', 1],
      ],
    );
    const cells = res.body.rows[0].cells;
    assert.deepEqual([...cells.slice(0, 7), ...cells.slice(8)], ['agent', 0, 0, 0, 0, 0, 'kubernetes.io/os=linux', 'agent', 'agent:1', 'app=agent']);
    const crds = await api.request('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { accept: TABLE });
    assert.deepEqual(
      crds.body.columnDefinitions.map((c: any) => c.name),
      ['Name', 'Created At'],
    );
    assert.deepEqual(
      crds.body.rows.map((r: any) => r.cells[0]),
      ['gadgets.wire.example'],
    );
    assert.match(crds.body.rows[0].cells[1], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });
});

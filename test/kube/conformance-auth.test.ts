// Authentication by bearer token and authorization from the stored RBAC objects,
// compared with capture 70 (the 403 body).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const NODE_USER = 'system:node:test-node';

describe('authentication and RBAC', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi({
      users: [
        { name: NODE_USER, groups: [] },
        { name: 'agent', groups: ['conntrack-agents'] },
      ],
    });
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
  });
  after(() => api?.stop());

  const as = (user: string) => ({ token: api.tokenFor(user) });

  it('refuses a request with a token that names nobody with 401 Unauthorized', async () => {
    const res = await api.request('GET', '/api/v1/nodes', { token: 'not-a-token' });
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
  });

  it('treats a request without a token as system:anonymous, which RBAC lets read only public info', async () => {
    const anonymous = { token: undefined as unknown as string };
    const nodes = await api.request('GET', '/api/v1/nodes', anonymous);
    assert.equal(nodes.status, 403);
    assert.deepEqual(nodes.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'nodes is forbidden: User "system:anonymous" cannot list resource "nodes" in API group "" at the cluster scope',
      reason: 'Forbidden',
      details: { kind: 'nodes' },
      code: 403,
    });
    const discovery = await api.request('GET', '/api', anonymous);
    assert.deepEqual([discovery.status, discovery.body.message], [403, 'forbidden: User "system:anonymous" cannot get path "/api"']);
    assert.equal((await api.request('GET', '/version', anonymous)).status, 200);
  });

  it('lets every authenticated user read discovery and /version', async () => {
    for (const path of ['/version', '/api', '/apis', '/apis/wire.example/v1alpha1', '/openapi/v3']) {
      assert.equal((await api.request('GET', path, as(NODE_USER))).status, 200, path);
    }
  });

  it('answers an unauthorized list with the 403 body of capture 70', async () => {
    const res = await api.request('GET', '/apis/wire.example/v1alpha1/gadgets', as(NODE_USER));
    assert.equal(res.status, 403);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message:
        'gadgets.wire.example is forbidden: User "system:node:test-node" cannot list resource "gadgets" in API group "wire.example" at the cluster scope',
      reason: 'Forbidden',
      details: { group: 'wire.example', kind: 'gadgets' },
      code: 403,
    });
  });

  it('names the object, namespace and subresource in a 403', async () => {
    const get = await api.request('GET', '/api/v1/namespaces/default/configmaps/cfg', as(NODE_USER));
    assert.equal(
      get.body.message,
      'configmaps "cfg" is forbidden: User "system:node:test-node" cannot get resource "configmaps" in API group "" in the namespace "default"',
    );
    assert.deepEqual(get.body.details, { name: 'cfg', kind: 'configmaps' });
    const status = await api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1/status', {
      ...as(NODE_USER),
      body: {},
      contentType: 'application/merge-patch+json',
    });
    assert.equal(
      status.body.message,
      'gadgets.wire.example "g1" is forbidden: User "system:node:test-node" cannot patch resource "gadgets/status" in API group "wire.example" at the cluster scope',
    );
  });

  it("grants what a ClusterRole bound to the user's group allows, and nothing more", async () => {
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'gadget-reader' },
      rules: [
        { apiGroups: ['wire.example'], resources: ['gadgets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['wire.example'], resources: ['gadgets/status'], verbs: ['patch'] },
      ],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'gadget-reader' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'gadget-reader' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'conntrack-agents' }],
    };
    assert.equal((await api.request('POST', `${RBAC}/clusterroles`, { body: role })).status, 201);
    assert.equal((await api.request('POST', `${RBAC}/clusterrolebindings`, { body: binding })).status, 201);
    await api.request('POST', '/apis/wire.example/v1alpha1/gadgets', {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'g1' }, spec: { max: 1 } },
    });
    // RBAC changes reach a real apiserver's authorizer cache within a moment.
    const deadline = Date.now() + 10_000;
    let list = await api.request('GET', '/apis/wire.example/v1alpha1/gadgets', as('agent'));
    while (list.status === 403 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      list = await api.request('GET', '/apis/wire.example/v1alpha1/gadgets', as('agent'));
    }
    assert.equal(list.status, 200);
    const status = await api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1/status', {
      ...as('agent'),
      body: { status: { usagePercent: 5 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(status.status, 200);
    const spec = await api.request('PATCH', '/apis/wire.example/v1alpha1/gadgets/g1', {
      ...as('agent'),
      body: { spec: { max: 2 } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(spec.status, 403);
    const create = await api.request('POST', '/apis/wire.example/v1alpha1/gadgets', {
      ...as('agent'),
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name: 'g2' }, spec: { max: 1 } },
    });
    assert.equal(create.status, 403);
    assert.equal((await api.request('GET', '/apis/wire.example/v1alpha1/gadgets', as(NODE_USER))).status, 403);
  });

  it('grants namespaced access through a Role and RoleBinding in that namespace only', async () => {
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'events', namespace: 'default' },
      rules: [{ apiGroups: [''], resources: ['events'], verbs: ['create'] }],
    };
    const binding = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'events', namespace: 'default' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'events' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: NODE_USER }],
    };
    assert.equal((await api.request('POST', `${RBAC}/namespaces/default/roles`, { body: role })).status, 201);
    assert.equal((await api.request('POST', `${RBAC}/namespaces/default/rolebindings`, { body: binding })).status, 201);
    const event = (ns: string) => ({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: 'e-', namespace: ns },
      involvedObject: { kind: 'Node', name: 'n' },
      reason: 'R',
      message: 'm',
      type: 'Normal',
    });
    const deadline = Date.now() + 10_000;
    let created = await api.request('POST', '/api/v1/namespaces/default/events', { ...as(NODE_USER), body: event('default') });
    while (created.status === 403 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      created = await api.request('POST', '/api/v1/namespaces/default/events', { ...as(NODE_USER), body: event('default') });
    }
    assert.equal(created.status, 201);
    const elsewhere = await api.request('POST', '/api/v1/namespaces/kube-system/events', { ...as(NODE_USER), body: event('kube-system') });
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body.message, /in the namespace "kube-system"$/);
  });

  it('answers SelfSubjectAccessReviews for the requesting user', async () => {
    const review = (user: string, resourceAttributes: Record<string, string>) =>
      api.request('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
        token: api.tokenFor(user),
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes } },
      });
    const allowed = await review('agent', { verb: 'list', group: 'wire.example', resource: 'gadgets' });
    assert.equal(allowed.status, 201);
    assert.equal(allowed.body.kind, 'SelfSubjectAccessReview');
    assert.equal(allowed.body.status.allowed, true);
    const denied = await review('agent', { verb: 'delete', group: 'wire.example', resource: 'gadgets' });
    assert.equal(denied.body.status.allowed, false);
  });

  it('lets system:masters do anything', async () => {
    const res = await api.request('DELETE', '/apis/wire.example/v1alpha1/gadgets/g1');
    assert.equal(res.status, 200);
  });
});

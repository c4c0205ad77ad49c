// TokenReview and SubjectAccessReview, as a delegated authenticator and
// authorizer ask them (the metrics server with --metrics-secure, like
// controller-runtime's): on the test API server and a real kube-apiserver
// alike, with the answers kube-apiserver 1.32 gave (recorded from it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi, type TestApi } from '../support/kube/harness.js';

const RBAC = '/apis/rbac.authorization.k8s.io/v1';
const TOKEN_REVIEWS = '/apis/authentication.k8s.io/v1/tokenreviews';
const ACCESS_REVIEWS = '/apis/authorization.k8s.io/v1/subjectaccessreviews';

describe('TokenReview and SubjectAccessReview', () => {
  let api: TestApi;
  const as = (user: string) => ({ token: api.tokenFor(user) });
  const tokenReview = (token: string) => ({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
  const accessReview = (spec: object) => ({ apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
  const metricsGet = (user: string, groups: string[], verb = 'get') => accessReview({ user, groups, nonResourceAttributes: { path: '/metrics', verb } });

  before(async () => {
    api = await startApi({
      users: [
        { name: 'scraper', groups: ['monitoring'] },
        { name: 'reviewer', groups: ['reviewers'] },
        { name: 'nobody', groups: [] },
      ],
    });
    const role = (name: string, rules: object[]) =>
      api.request('POST', `${RBAC}/clusterroles`, { body: { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name }, rules } });
    const bind = (name: string, user: string) =>
      api.request('POST', `${RBAC}/clusterrolebindings`, {
        body: {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
          subjects: [{ kind: 'User', name: user, apiGroup: 'rbac.authorization.k8s.io' }],
        },
      });
    for (const r of [
      await role('metrics-reader', [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]),
      await bind('metrics-reader', 'scraper'),
      await role('reviewer', [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] },
      ]),
      await bind('reviewer', 'reviewer'),
    ])
      assert.equal(r.status, 201, r.text);
  });
  after(() => api?.stop());

  it('answers a known token with its user, and any other with an error in the status (201 both: the review worked)', async () => {
    const known = await api.request('POST', TOKEN_REVIEWS, { ...as('reviewer'), body: tokenReview(api.tokenFor('scraper')) });
    assert.equal(known.status, 201);
    assert.equal(known.body.kind, 'TokenReview');
    assert.equal(known.body.status.authenticated, true);
    assert.deepEqual(known.body.status.user, { username: 'scraper', uid: 'scraper', groups: ['monitoring', 'system:authenticated'] });
    assert.equal(known.body.status.audiences.length, 1);
    const unknown = await api.request('POST', TOKEN_REVIEWS, { ...as('reviewer'), body: tokenReview('bogus') });
    assert.equal(unknown.status, 201);
    assert.deepEqual(unknown.body.status, { user: {}, error: 'invalid bearer token' });
  });

  it('refuses a TokenReview without a token (400) and from a user RBAC does not allow (403)', async () => {
    const empty = await api.request('POST', TOKEN_REVIEWS, { ...as('reviewer'), body: tokenReview('') });
    assert.deepEqual([empty.status, empty.body.reason, empty.body.message], [400, 'BadRequest', 'token is required for TokenReview in authentication']);
    const refused = await api.request('POST', TOKEN_REVIEWS, { ...as('nobody'), body: tokenReview(api.tokenFor('scraper')) });
    assert.equal(refused.status, 403);
    assert.equal(
      refused.body.message,
      'tokenreviews.authentication.k8s.io is forbidden: User "nobody" cannot create resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope',
    );
  });

  it("decides another user's non-resource request by RBAC: allowed with the binding named, denied without a reason", async () => {
    const allowed = await api.request('POST', ACCESS_REVIEWS, { ...as('reviewer'), body: metricsGet('scraper', ['monitoring', 'system:authenticated']) });
    assert.equal(allowed.status, 201);
    assert.deepEqual(allowed.body.status, {
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "metrics-reader" of ClusterRole "metrics-reader" to User "scraper"',
    });
    assert.deepEqual(allowed.body.spec, {
      nonResourceAttributes: { path: '/metrics', verb: 'get' },
      user: 'scraper',
      groups: ['monitoring', 'system:authenticated'],
    });
    for (const body of [metricsGet('nobody', ['system:authenticated']), metricsGet('scraper', ['monitoring'], 'head')]) {
      const denied = await api.request('POST', ACCESS_REVIEWS, { ...as('reviewer'), body });
      assert.equal(denied.status, 201);
      assert.deepEqual(denied.body.status, { allowed: false });
    }
  });

  it('refuses a SubjectAccessReview without a user or group, or with both kinds of attributes (422), and from a user RBAC does not allow (403)', async () => {
    const noUser = await api.request('POST', ACCESS_REVIEWS, {
      ...as('reviewer'),
      body: accessReview({ nonResourceAttributes: { path: '/metrics', verb: 'get' } }),
    });
    assert.equal(noUser.status, 422);
    assert.equal(noUser.body.message, '.authorization.k8s.io "" is invalid: spec.user: Invalid value: "": at least one of user or group must be specified');
    assert.deepEqual(noUser.body.details, {
      group: 'authorization.k8s.io',
      causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: "": at least one of user or group must be specified', field: 'spec.user' }],
    });
    const none = await api.request('POST', ACCESS_REVIEWS, { ...as('reviewer'), body: accessReview({ user: 'x' }) });
    assert.equal(none.status, 422);
    assert.match(
      none.body.message,
      /spec\.resourceAttributes: Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified$/,
    );
    const both = await api.request('POST', ACCESS_REVIEWS, {
      ...as('reviewer'),
      body: accessReview({ user: 'x', nonResourceAttributes: { path: '/metrics', verb: 'get' }, resourceAttributes: { verb: 'get', resource: 'pods' } }),
    });
    assert.equal(both.status, 422);
    assert.match(
      both.body.message,
      /spec\.nonResourceAttributes: Invalid value: authorization\.NonResourceAttributes\{Path:"\/metrics", Verb:"get"\}: cannot be specified in combination with resourceAttributes$/,
    );
    const refused = await api.request('POST', ACCESS_REVIEWS, { ...as('nobody'), body: metricsGet('scraper', ['monitoring']) });
    assert.equal(refused.status, 403);
  });
});

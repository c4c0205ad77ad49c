import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RequestAttributes, UserInfo } from '../support/kube/auth-types.js';
import { bootstrapRbacObjects, forbiddenMessage, RBAC_API_VERSION, RbacAuthorizer, type RbacSource, serviceAccountUser } from '../support/kube/rbac.js';

type Obj = Record<string, unknown>;

/** Answers like the store: the stored objects of one apiVersion and kind. */
class ListSource implements RbacSource {
  constructor(readonly objects: Obj[]) {}
  list(apiVersion: string, kind: string): unknown[] {
    return this.objects.filter((o) => o.apiVersion === apiVersion && o.kind === kind);
  }
}

const CT = 'conntrack.io';
const meta = (name: string, extra: Obj = {}) => ({ metadata: { name, ...extra } });
const clusterRole = (name: string, rules: Obj[], extra: Obj = {}, labels?: Record<string, string>): Obj => ({
  apiVersion: RBAC_API_VERSION,
  kind: 'ClusterRole',
  ...meta(name, labels ? { labels } : {}),
  rules,
  ...extra,
});
const role = (namespace: string, name: string, rules: Obj[]): Obj => ({
  apiVersion: RBAC_API_VERSION,
  kind: 'Role',
  ...meta(name, { namespace }),
  rules,
});
const binding = (kind: 'ClusterRoleBinding' | 'RoleBinding', name: string, roleRef: [string, string], subjects: Obj[], namespace?: string): Obj => ({
  apiVersion: RBAC_API_VERSION,
  kind,
  ...meta(name, namespace ? { namespace } : {}),
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleRef[0], name: roleRef[1] },
  subjects,
});
const userSubject = (name: string) => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
const groupSubject = (name: string) => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name });
const saSubject = (name: string, namespace?: string) => ({ kind: 'ServiceAccount', name, ...(namespace ? { namespace } : {}) });

const objects: Obj[] = [
  ...bootstrapRbacObjects(),
  clusterRole('agent', [
    { apiGroups: [CT], resources: ['conntrackpolicies'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [CT], resources: ['conntrackstatuses'], verbs: ['get', 'list', 'watch', 'create'] },
    { apiGroups: [CT], resources: ['conntrackstatuses/status'], verbs: ['update', 'patch'] },
    { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['ctop-leader'], verbs: ['get', 'update'] },
    { apiGroups: [''], resources: ['configmaps'], resourceNames: ['ctop-config'], verbs: ['get', 'list', 'watch', 'create'] },
  ]),
  clusterRole('scaler', [{ apiGroups: ['apps'], resources: ['*/scale'], verbs: ['get', 'update'] }]),
  clusterRole('get-everything', [{ apiGroups: ['*'], resources: ['*'], verbs: ['get'] }]),
  clusterRole('metrics-reader', [{ nonResourceURLs: ['/metrics', '/debug/*'], verbs: ['get'] }]),
  clusterRole('pod-reader', [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }]),
  // Aggregation: the parent's own (stale) rule is replaced by its children's, as the controller does.
  clusterRole(
    'parent',
    [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
    {
      aggregationRule: {
        clusterRoleSelectors: [
          { matchLabels: { 'example.io/aggregate-to-parent': 'true' } },
          { matchExpressions: [{ key: 'tier', operator: 'In', values: ['x', 'y'] }] },
        ],
      },
    },
    { 'example.io/aggregate-to-grandparent': 'true' },
  ),
  clusterRole('child-a', [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }], {}, { 'example.io/aggregate-to-parent': 'true' }),
  clusterRole('child-c', [{ apiGroups: [''], resources: ['services'], verbs: ['get'] }], {}, { tier: 'y' }),
  clusterRole('child-z', [{ apiGroups: [''], resources: ['nodes'], verbs: ['delete'] }], {}, { tier: 'z' }),
  clusterRole('grandparent', [], {
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'example.io/aggregate-to-grandparent': 'true' } }] },
  }),
  // Two aggregated roles selecting each other must not loop.
  clusterRole('cycle-a', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { cyc: 'b' } }] } }, { cyc: 'a' }),
  clusterRole('cycle-b', [], { aggregationRule: { clusterRoleSelectors: [{ matchLabels: { cyc: 'a' } }] } }, { cyc: 'b' }),
  clusterRole('cycle-leaf', [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }], {}, { cyc: 'a' }),
  role('team-a', 'cm-editor', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'update'] }]),
  binding('ClusterRoleBinding', 'agent', ['ClusterRole', 'agent'], [saSubject('agent', 'ctop')]),
  binding('ClusterRoleBinding', 'scaler', ['ClusterRole', 'scaler'], [userSubject('alice')]),
  binding('ClusterRoleBinding', 'readers', ['ClusterRole', 'get-everything'], [groupSubject('readers')]),
  binding('ClusterRoleBinding', 'metrics', ['ClusterRole', 'metrics-reader'], [groupSubject('monitoring')]),
  binding('ClusterRoleBinding', 'aggregated', ['ClusterRole', 'grandparent'], [userSubject('agg')]),
  binding('ClusterRoleBinding', 'cycle', ['ClusterRole', 'cycle-b'], [userSubject('cyclist')]),
  binding('ClusterRoleBinding', 'dangling', ['ClusterRole', 'missing-role'], [userSubject('dangler')]),
  binding('RoleBinding', 'cm-editor', ['Role', 'cm-editor'], [userSubject('bob')], 'team-a'),
  binding('RoleBinding', 'cm-editor', ['Role', 'cm-editor'], [userSubject('bob')], 'team-b'),
  binding('RoleBinding', 'dangling-role', ['Role', 'nope'], [userSubject('dangler')], 'team-b'),
  // A RoleBinding to a ClusterRole grants its rules in the binding's namespace only;
  // a ServiceAccount subject without namespace means the binding's namespace.
  binding('RoleBinding', 'pod-readers', ['ClusterRole', 'pod-reader'], [saSubject('builder')], 'team-a'),
];

const authed = (name: string, ...groups: string[]): UserInfo => ({ name, groups: [...groups, 'system:authenticated'] });
const agent = serviceAccountUser('ctop', 'agent');
const builder = serviceAccountUser('team-a', 'builder');
const anonymous: UserInfo = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

const res = (verb: string, apiGroup: string, resource: string, more: Partial<RequestAttributes> = {}): RequestAttributes => ({
  verb,
  apiGroup,
  resource,
  ...more,
});
const url = (verb: string, path: string): RequestAttributes => ({ verb, apiGroup: '', resource: '', nonResourceURL: path, path });

const cases: Array<[string, UserInfo, RequestAttributes, boolean]> = [
  // service account subject and cluster-wide grants
  ['SA lists policies', agent, res('list', CT, 'conntrackpolicies'), true],
  ['SA may not delete policies', agent, res('delete', CT, 'conntrackpolicies', { name: 'p' }), false],
  ['same SA name in another namespace gets nothing', serviceAccountUser('other', 'agent'), res('list', CT, 'conntrackpolicies'), false],
  ['ClusterRoleBinding grants inside any namespace too', agent, res('create', '', 'events', { namespace: 'kube-system' }), true],
  ['wrong API group', agent, res('list', 'other.io', 'conntrackpolicies'), false],
  // subresources are separate resources
  ['status subresource update', agent, res('update', CT, 'conntrackstatuses', { subresource: 'status', name: 'n1' }), true],
  ['main resource update not granted by the status rule', agent, res('update', CT, 'conntrackstatuses', { name: 'n1' }), false],
  ['status get not granted by the main-resource rule', agent, res('get', CT, 'conntrackstatuses', { subresource: 'status', name: 'n1' }), false],
  // resourceNames
  ['named lease', agent, res('get', 'coordination.k8s.io', 'leases', { namespace: 'ctop', name: 'ctop-leader' }), true],
  ['other lease', agent, res('get', 'coordination.k8s.io', 'leases', { namespace: 'ctop', name: 'someone-else' }), false],
  ['create lease by the name-less rule', agent, res('create', 'coordination.k8s.io', 'leases', { namespace: 'ctop' }), true],
  ['resourceNames never match create', agent, res('create', '', 'configmaps', { namespace: 'ctop' }), false],
  ['list without a name is not a named request', agent, res('list', '', 'configmaps', { namespace: 'ctop' }), false],
  ['list with fieldSelector metadata.name carries the name', agent, res('list', '', 'configmaps', { namespace: 'ctop', name: 'ctop-config' }), true],
  ['watch with fieldSelector metadata.name', agent, res('watch', '', 'configmaps', { namespace: 'ctop', name: 'ctop-config' }), true],
  ['watch of another name', agent, res('watch', '', 'configmaps', { namespace: 'ctop', name: 'other' }), false],
  // */subresource and * wildcards
  ['*/scale grants deployments/scale', authed('alice'), res('get', 'apps', 'deployments', { subresource: 'scale', namespace: 'x', name: 'd' }), true],
  ['*/scale grants statefulsets/scale', authed('alice'), res('update', 'apps', 'statefulsets', { subresource: 'scale', namespace: 'x', name: 's' }), true],
  ['*/scale does not grant the resource', authed('alice'), res('get', 'apps', 'deployments', { namespace: 'x', name: 'd' }), false],
  [
    '*/scale does not grant other subresources',
    authed('alice'),
    res('get', 'apps', 'deployments', { subresource: 'status', namespace: 'x', name: 'd' }),
    false,
  ],
  ['group subject with * groups and resources', authed('carol', 'readers'), res('get', '', 'secrets', { namespace: 'x', name: 's' }), true],
  ['* resources include subresources', authed('carol', 'readers'), res('get', '', 'nodes', { subresource: 'status', name: 'n' }), true],
  ['* covers resources, not verbs', authed('carol', 'readers'), res('list', '', 'secrets', { namespace: 'x' }), false],
  ['not in the group', authed('dave'), res('get', '', 'secrets', { namespace: 'x', name: 's' }), false],
  // nonResourceURLs
  ['exact URL', authed('mon', 'monitoring'), url('get', '/metrics'), true],
  ['URL prefix with trailing *', authed('mon', 'monitoring'), url('get', '/debug/pprof/heap'), true],
  ['prefix is taken literally', authed('mon', 'monitoring'), url('get', '/debugz'), false],
  ['URL rule checks the verb', authed('mon', 'monitoring'), url('post', '/metrics'), false],
  ['URL rules grant no resources', authed('mon', 'monitoring'), res('get', '', 'pods', { namespace: 'x', name: 'p' }), false],
  // Role and RoleBinding scope
  ['Role in its namespace', authed('bob'), res('get', '', 'configmaps', { namespace: 'team-a', name: 'c' }), true],
  ['Role grants nothing at cluster scope', authed('bob'), res('get', '', 'configmaps', { name: 'c' }), false],
  ['binding to a Role that does not exist', authed('bob'), res('get', '', 'configmaps', { namespace: 'team-b', name: 'c' }), false],
  ['RoleBinding to ClusterRole, SA subject defaulting to binding namespace', builder, res('list', '', 'pods', { namespace: 'team-a' }), true],
  ['RoleBinding to ClusterRole does not reach other namespaces', builder, res('list', '', 'pods', { namespace: 'team-b' }), false],
  ['RoleBinding to ClusterRole does not reach cluster scope', builder, res('list', '', 'pods'), false],
  // aggregation
  ['aggregated through two levels (matchLabels)', authed('agg'), res('list', '', 'pods', { namespace: 'x' }), true],
  ['aggregated by matchExpressions In', authed('agg'), res('get', '', 'services', { namespace: 'x', name: 's' }), true],
  ['not selected by In', authed('agg'), res('delete', '', 'nodes', { name: 'n' }), false],
  ["aggregated role's own rules are replaced", authed('agg'), res('get', '', 'secrets', { namespace: 'x', name: 's' }), false],
  ['aggregation cycle terminates and keeps the leaf', authed('cyclist'), res('list', '', 'namespaces'), true],
  // privileged group and defaults
  ['system:masters may do anything', { name: 'root', groups: ['system:masters'] }, res('deletecollection', '*', 'anything'), true],
  ['system:masters on URLs too', { name: 'root', groups: ['system:masters'] }, url('put', '/anything'), true],
  ['discovery /api', authed('alice'), url('get', '/api'), true],
  ['discovery /api/v1', authed('alice'), url('get', '/api/v1'), true],
  ['discovery /apis/<group>/<version>', authed('alice'), url('get', '/apis/conntrack.io/v1alpha1'), true],
  ['openapi v3 index', authed('alice'), url('get', '/openapi/v3'), true],
  ['openapi v3 group document', authed('alice'), url('get', '/openapi/v3/apis/conntrack.io/v1alpha1'), true],
  ['version', authed('alice'), url('get', '/version'), true],
  ['discovery is read-only', authed('alice'), url('post', '/apis'), false],
  ['self access review for every authenticated user', authed('alice'), res('create', 'authorization.k8s.io', 'selfsubjectaccessreviews'), true],
  ['anonymous gets no discovery', anonymous, url('get', '/api'), false],
  ['anonymous gets /version', anonymous, url('get', '/version'), true],
  ['anonymous gets /healthz', anonymous, url('get', '/healthz'), true],
  ['no system:authenticated group, no discovery', { name: 'bare', groups: [] }, url('get', '/apis'), false],
];

describe('RbacAuthorizer decisions', () => {
  const authorizer = new RbacAuthorizer(new ListSource(objects));
  for (const [name, user, attrs, allowed] of cases) {
    it(`${allowed ? 'allows' : 'denies'}: ${name}`, () => {
      assert.equal(authorizer.authorize(user, attrs).allowed, allowed);
    });
  }
});

describe('RbacAuthorizer reasons', () => {
  const authorizer = new RbacAuthorizer(new ListSource(objects));
  const reasons: Array<[string, UserInfo, RequestAttributes, { allowed: boolean; reason: string }]> = [
    [
      'ClusterRoleBinding to a service account',
      agent,
      res('list', CT, 'conntrackpolicies'),
      { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "agent" of ClusterRole "agent" to ServiceAccount "agent/ctop"' },
    ],
    [
      'RoleBinding, subject namespace from the binding',
      builder,
      res('get', '', 'pods', { namespace: 'team-a', name: 'p' }),
      { allowed: true, reason: 'RBAC: allowed by RoleBinding "pod-readers/team-a" of ClusterRole "pod-reader" to ServiceAccount "builder/team-a"' },
    ],
    [
      'group subject',
      authed('carol', 'readers'),
      res('get', '', 'nodes', { name: 'n' }),
      { allowed: true, reason: 'RBAC: allowed by ClusterRoleBinding "readers" of ClusterRole "get-everything" to Group "readers"' },
    ],
    ['plain denial has no reason', authed('dave'), res('get', '', 'nodes', { name: 'n' }), { allowed: false, reason: '' }],
    [
      'a missing Role is reported',
      authed('bob'),
      res('get', '', 'configmaps', { namespace: 'team-b', name: 'c' }),
      { allowed: false, reason: 'RBAC: role.rbac.authorization.k8s.io "cm-editor" not found' },
    ],
    [
      'several resolution errors are aggregated',
      authed('dangler'),
      res('get', '', 'configmaps', { namespace: 'team-b', name: 'c' }),
      {
        allowed: false,
        reason: 'RBAC: [clusterrole.rbac.authorization.k8s.io "missing-role" not found, role.rbac.authorization.k8s.io "nope" not found]',
      },
    ],
    ['system:masters', { name: 'root', groups: ['system:masters'] }, res('get', '', 'nodes'), { allowed: true, reason: '' }],
  ];
  for (const [name, user, attrs, expected] of reasons) {
    it(name, () => assert.deepEqual(authorizer.authorize(user, attrs), expected));
  }
});

describe('default RBAC objects', () => {
  it('are real stored objects: deleting the system:discovery binding takes discovery away', () => {
    const withoutDiscovery = bootstrapRbacObjects().filter(
      (o) => !(o.kind === 'ClusterRoleBinding' && (o.metadata as { name: string }).name === 'system:discovery'),
    );
    const alice = authed('alice');
    assert.equal(new RbacAuthorizer(new ListSource(bootstrapRbacObjects())).authorize(alice, url('get', '/api')).allowed, true);
    assert.equal(new RbacAuthorizer(new ListSource(withoutDiscovery)).authorize(alice, url('get', '/api')).allowed, false);
  });

  it('carry the bootstrapping label and autoupdate annotation', () => {
    const objs = bootstrapRbacObjects();
    assert.deepEqual(objs.map((o) => `${String(o.kind)}/${(o.metadata as { name: string }).name}`).sort(), [
      'ClusterRole/cluster-admin',
      'ClusterRole/system:basic-user',
      'ClusterRole/system:discovery',
      'ClusterRole/system:public-info-viewer',
      'ClusterRoleBinding/cluster-admin',
      'ClusterRoleBinding/system:basic-user',
      'ClusterRoleBinding/system:discovery',
      'ClusterRoleBinding/system:public-info-viewer',
    ]);
    for (const o of objs) {
      const m = o.metadata as { labels: Record<string, string>; annotations: Record<string, string> };
      assert.equal(m.labels['kubernetes.io/bootstrapping'], 'rbac-defaults');
      assert.equal(m.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
    }
  });
});

describe('forbiddenMessage', () => {
  it('equals the message of the real 403 in capture 70 for the same request, which RBAC denies', () => {
    const capture = readFileSync(join(import.meta.dirname, '..', 'fixtures', 'kube-wire', '70-forbidden-list.txt'), 'utf8');
    const body = JSON.parse(capture.slice(capture.indexOf('{'))) as { message: string };
    const user = { name: 'system:node:test-node', groups: ['system:nodes', 'system:authenticated'] };
    const attrs = res('list', 'wire.example', 'gadgets');
    const decision = new RbacAuthorizer(new ListSource(bootstrapRbacObjects())).authorize(user, attrs);
    assert.deepEqual(decision, { allowed: false, reason: '' });
    assert.equal(forbiddenMessage(user, attrs, decision.reason), body.message);
  });

  const messages: Array<[string, UserInfo, RequestAttributes, string, string]> = [
    [
      'core group, namespaced, named',
      authed('bob'),
      res('get', '', 'configmaps', { namespace: 'team-c', name: 'cfg' }),
      '',
      'configmaps "cfg" is forbidden: User "bob" cannot get resource "configmaps" in API group "" in the namespace "team-c"',
    ],
    [
      'subresource at cluster scope',
      agent,
      res('get', CT, 'conntrackstatuses', { subresource: 'status', name: 'node-1' }),
      '',
      'conntrackstatuses.conntrack.io "node-1" is forbidden: User "system:serviceaccount:ctop:agent" cannot get resource "conntrackstatuses/status" in API group "conntrack.io" at the cluster scope',
    ],
    [
      'with the authorizer reason appended',
      authed('bob'),
      res('list', '', 'configmaps', { namespace: 'team-b' }),
      'RBAC: role.rbac.authorization.k8s.io "cm-editor" not found',
      'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" in the namespace "team-b": RBAC: role.rbac.authorization.k8s.io "cm-editor" not found',
    ],
    ['non-resource URL', anonymous, url('get', '/api'), '', 'forbidden: User "system:anonymous" cannot get path "/api"'],
    [
      'HTML-looking text is escaped',
      authed('<b>&'),
      res('list', '', 'pods'),
      '',
      'pods is forbidden: User "&lt;b&gt;&amp;" cannot list resource "pods" in API group "" at the cluster scope',
    ],
  ];
  for (const [name, user, attrs, reason, expected] of messages) {
    it(name, () => assert.equal(forbiddenMessage(user, attrs, reason), expected));
  }
});

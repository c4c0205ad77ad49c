// Kubernetes RBAC authorization over the RBAC objects the test API server stores,
// following kube-apiserver's rbac authorizer (plugin/pkg/auth/authorizer/rbac) and
// its rule resolver (pkg/registry/rbac/validation/rule.go): ClusterRoleBindings are
// visited first, then the RoleBindings of the request's namespace; the first rule
// that allows ends the walk. Reasons and the Forbidden text are the server's own.
import type { RbacSource, RequestAttributes, UserInfo } from './auth-types.js';

export type { RbacSource } from './auth-types.js';

export const RBAC_API_VERSION = 'rbac.authorization.k8s.io/v1';
/** The group kube-apiserver's privileged-group authorizer always allows, before RBAC. */
export const SYSTEM_MASTERS = 'system:masters';
export const SYSTEM_AUTHENTICATED = 'system:authenticated';
export const SYSTEM_UNAUTHENTICATED = 'system:unauthenticated';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

interface LabelSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

interface Metadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
}

interface RoleObject {
  metadata: Metadata;
  rules?: PolicyRule[] | null;
  aggregationRule?: { clusterRoleSelectors?: LabelSelector[] | null } | null;
}

interface BindingObject {
  metadata: Metadata;
  subjects?: Subject[] | null;
  roleRef: { kind: string; name: string };
}

export interface Decision {
  allowed: boolean;
  /** "RBAC: allowed by ..." when allowed; empty, or "RBAC: <resolution errors>", when not. */
  reason: string;
}

export class RbacAuthorizer {
  constructor(private readonly source: RbacSource) {}

  authorize(user: UserInfo, attrs: RequestAttributes): Decision {
    if (user.groups.includes(SYSTEM_MASTERS)) return { allowed: true, reason: '' };
    const errors: string[] = [];
    const namespace = attrs.namespace ?? '';
    const scopes: Array<{ bindings: BindingObject[]; namespace: string; describe: (b: BindingObject) => string }> = [
      {
        bindings: this.list<BindingObject>('ClusterRoleBinding'),
        namespace: '',
        describe: (b) => `ClusterRoleBinding ${goQuote(b.metadata.name)}`,
      },
    ];
    if (namespace) {
      scopes.push({
        bindings: this.list<BindingObject>('RoleBinding').filter((b) => b.metadata.namespace === namespace),
        namespace,
        describe: (b) => `RoleBinding ${goQuote(`${b.metadata.name}/${namespace}`)}`,
      });
    }
    for (const scope of scopes) {
      for (const binding of scope.bindings) {
        const subject = (binding.subjects ?? []).find((s) => appliesToUser(user, s, scope.namespace));
        if (!subject) continue;
        const rules = this.roleRefRules(binding.roleRef, scope.namespace, errors);
        if (rules.some((rule) => ruleAllows(attrs, rule))) {
          const { kind, name } = binding.roleRef;
          const source = `${scope.describe(binding)} of ${kind} ${goQuote(name)} to ${describeSubject(subject, scope.namespace)}`;
          return { allowed: true, reason: `RBAC: allowed by ${source}` };
        }
      }
    }
    return { allowed: false, reason: errors.length ? `RBAC: ${aggregateErrors(errors)}` : '' };
  }

  private list<T>(kind: string): T[] {
    return this.source.list(RBAC_API_VERSION, kind) as T[];
  }

  private roleRefRules(roleRef: BindingObject['roleRef'], bindingNamespace: string, errors: string[]): PolicyRule[] {
    if (roleRef.kind === 'ClusterRole') {
      const clusterRoles = this.list<RoleObject>('ClusterRole');
      const role = clusterRoles.find((r) => r.metadata.name === roleRef.name);
      if (role) return effectiveClusterRoleRules(role, clusterRoles, new Set());
      errors.push(`clusterrole.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`);
      return [];
    }
    if (roleRef.kind === 'Role') {
      const role = this.list<RoleObject>('Role').find((r) => r.metadata.name === roleRef.name && (r.metadata.namespace ?? '') === bindingNamespace);
      if (role) return role.rules ?? [];
      errors.push(`role.rbac.authorization.k8s.io ${goQuote(roleRef.name)} not found`);
      return [];
    }
    errors.push(`unsupported role reference kind: ${goQuote(roleRef.kind)}`);
    return [];
  }
}

/**
 * A real cluster's clusterrole-aggregation controller rewrites an aggregated
 * ClusterRole's rules to the union of the rules of every other ClusterRole its
 * selectors match (by name order, duplicates dropped). This computes that
 * steady state on read. (envtest runs no controller-manager, so there the
 * aggregated role keeps whatever rules it was created with.)
 */
function effectiveClusterRoleRules(role: RoleObject, all: RoleObject[], visiting: Set<string>): PolicyRule[] {
  const selectors = role.aggregationRule?.clusterRoleSelectors;
  if (!selectors) return role.rules ?? [];
  visiting.add(role.metadata.name);
  const union: PolicyRule[] = [];
  const byName = [...all].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const selector of selectors) {
    for (const other of byName) {
      if (visiting.has(other.metadata.name) || !labelSelectorMatches(selector, other.metadata.labels ?? {})) continue;
      for (const rule of effectiveClusterRoleRules(other, all, visiting)) {
        if (!union.some((r) => sameRule(r, rule))) union.push(rule);
      }
    }
  }
  visiting.delete(role.metadata.name);
  return union;
}

function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  const key = (r: PolicyRule) => JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);
  return key(a) === key(b);
}

function labelSelectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  const exact = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return exact && (selector.matchExpressions ?? []).every((req) => requirementMatches(req, labels));
}

function requirementMatches(req: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, req.key);
  const values = req.values ?? [];
  switch (req.operator) {
    case 'In':
      return has && values.includes(labels[req.key] ?? '');
    case 'NotIn':
      return !has || !values.includes(labels[req.key] ?? '');
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    default:
      return false; // an invalid selector selects nothing (the controller errors out)
  }
}

function appliesToUser(user: UserInfo, subject: Subject, bindingNamespace: string): boolean {
  switch (subject.kind) {
    case 'User':
      return user.name === subject.name;
    case 'Group':
      return user.groups.includes(subject.name);
    case 'ServiceAccount': {
      // A RoleBinding may leave the namespace out: it then means the binding's own.
      const namespace = subject.namespace || bindingNamespace;
      return namespace !== '' && user.name === serviceAccountUserName(namespace, subject.name);
    }
    default:
      return false;
  }
}

function describeSubject(subject: Subject, bindingNamespace: string): string {
  if (subject.kind === 'ServiceAccount') {
    return `${subject.kind} ${goQuote(`${subject.name}/${subject.namespace || bindingNamespace}`)}`;
  }
  return `${subject.kind} ${goQuote(subject.name)}`;
}

function isNonResourceRequest(attrs: RequestAttributes): boolean {
  return Boolean(attrs.nonResourceURL);
}

/** rbac.RuleAllows: verb, group, resource (or resource/subresource) and name must all match. */
export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!matchesOrStar(rule.verbs, attrs.verb)) return false;
  if (isNonResourceRequest(attrs)) return nonResourceURLMatches(rule.nonResourceURLs ?? [], attrs.nonResourceURL ?? '');
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  return (
    matchesOrStar(rule.apiGroups ?? [], attrs.apiGroup) &&
    resourceMatches(rule.resources ?? [], combined, attrs.subresource ?? '') &&
    resourceNameMatches(rule.resourceNames ?? [], attrs.name ?? '')
  );
}

function matchesOrStar(allowed: string[], requested: string): boolean {
  return allowed.some((a) => a === '*' || a === requested);
}

function resourceMatches(ruleResources: string[], combined: string, subresource: string): boolean {
  // "*/scale" grants that subresource of every resource, never the resource itself.
  return ruleResources.some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

/**
 * No resourceNames means every name. Otherwise the request must carry a name:
 * create and deletecollection never do, and list/watch only when the client
 * asked with fieldSelector=metadata.name=<name> (kube-apiserver copies that
 * into the request's name).
 */
function resourceNameMatches(ruleNames: string[], requested: string): boolean {
  return ruleNames.length === 0 || ruleNames.includes(requested);
}

function nonResourceURLMatches(ruleURLs: string[], requested: string): boolean {
  return ruleURLs.some((u) => u === '*' || u === requested || (u.endsWith('*') && requested.startsWith(u.slice(0, -1))));
}

/** utilerrors.NewAggregate(...).Error(): one message alone, several deduplicated in brackets. */
function aggregateErrors(messages: string[]): string {
  const unique = [...new Set(messages)];
  return unique.length === 1 ? (unique[0] ?? '') : `[${unique.join(', ')}]`;
}

/** Go's %q for the plain strings these messages hold. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** responsewriters' sanitizer: nothing in an error may look like HTML. */
function sanitize(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/**
 * The message of kube-apiserver's 403 Status (responsewriters.Forbidden wrapped
 * by apierrors.NewForbidden), e.g.
 * `gadgets.wire.example is forbidden: User "u" cannot list resource "gadgets" in API group "wire.example" at the cluster scope`.
 * A named request reads `<resource>.<group> "<name>" is forbidden: ...`, a
 * namespaced one ends `in the namespace "<ns>"`, a subresource is named
 * `resource/subresource`, and a non-resource URL gives
 * `forbidden: User "u" cannot get path "/x"`. The authorizer's reason, if any, is appended after ": ".
 * The Status details are { name?, group? (omitted when empty), kind: <resource> },
 * and {} for a non-resource URL.
 */
export function forbiddenMessage(user: UserInfo, attrs: RequestAttributes, reason = ''): string {
  const who = `User ${goQuote(user.name)} cannot ${attrs.verb}`;
  let denial: string;
  if (isNonResourceRequest(attrs)) {
    denial = `${who} path ${goQuote(attrs.nonResourceURL ?? '')}`;
  } else {
    const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
    const scope = attrs.namespace ? `in the namespace ${goQuote(attrs.namespace)}` : 'at the cluster scope';
    denial = `${who} resource ${goQuote(resource)} in API group ${goQuote(attrs.apiGroup)} ${scope}`;
  }
  const text = reason ? `${sanitize(denial)}: ${reason}` : sanitize(denial);
  if (isNonResourceRequest(attrs)) return `forbidden: ${text}`;
  const qualified = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  return attrs.name ? `${qualified} ${goQuote(attrs.name)} is forbidden: ${text}` : `${qualified} is forbidden: ${text}`;
}

export function serviceAccountUserName(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** The identity kube-apiserver gives a ServiceAccount token, groups included. */
export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return {
    name: serviceAccountUserName(namespace, name),
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, SYSTEM_AUTHENTICATED],
  };
}

const BOOTSTRAP_METADATA = {
  labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' },
  annotations: { 'rbac.authorization.kubernetes.io/autoupdate': 'true' },
};

const bootstrapRoles: Array<{ name: string; rules: PolicyRule[]; groups: string[] }> = [
  {
    name: 'cluster-admin',
    rules: [
      { verbs: ['*'], apiGroups: ['*'], resources: ['*'] },
      { verbs: ['*'], nonResourceURLs: ['*'] },
    ],
    groups: [SYSTEM_MASTERS],
  },
  {
    name: 'system:discovery',
    rules: [
      {
        verbs: ['get'],
        nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'],
      },
    ],
    groups: [SYSTEM_AUTHENTICATED],
  },
  {
    name: 'system:basic-user',
    rules: [
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
      { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
    ],
    groups: [SYSTEM_AUTHENTICATED],
  },
  {
    name: 'system:public-info-viewer',
    rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }],
    groups: [SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED],
  },
];

/**
 * The default ClusterRoles and ClusterRoleBindings kube-apiserver creates at
 * start (bootstrappolicy) that matter here: cluster-admin for system:masters,
 * and the discovery/self-review/public-info roles every authenticated user has,
 * without which kubectl cannot even discover the API. The test API server
 * stores these like any other object, so they are listed and can be deleted.
 */
export function bootstrapRbacObjects(): Array<Record<string, unknown>> {
  const metadata = (name: string) => ({ name, ...structuredClone(BOOTSTRAP_METADATA) });
  return bootstrapRoles.flatMap(({ name, rules, groups }) => [
    { apiVersion: RBAC_API_VERSION, kind: 'ClusterRole', metadata: metadata(name), rules: structuredClone(rules) },
    {
      apiVersion: RBAC_API_VERSION,
      kind: 'ClusterRoleBinding',
      metadata: metadata(name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: groups.map((g) => ({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: g })),
    },
  ]);
}

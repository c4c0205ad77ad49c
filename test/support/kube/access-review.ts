// The review APIs, answered by the server's own authenticator and authorizer as
// kube-apiserver answers them (shapes and messages from the real 1.32 server,
// test/kube/conformance-reviews.test.ts):
// - SelfSubjectAccessReview (authorization.k8s.io/v1), which `kubectl auth can-i` posts:
//   the requesting user's own permission check;
// - SubjectAccessReview: another user's, as a delegated authorizer asks
//   (controller-runtime's secure metrics, our metrics server);
// - TokenReview (authentication.k8s.io/v1): whose token this is.
import type { RequestAttributes, UserInfo } from './auth-types.js';
import type { Authenticator, Authorizer } from './authn.js';
import { isObject, type Json } from './schema-walk.js';
import { ApiError, badRequest, fieldErrors, invalid, type FieldError } from './status-errors.js';

/** The request a review spec describes: a resource or a non-resource URL, never both. */
function reviewedAttributes(spec: Record<string, Json>): RequestAttributes | FieldError {
  const nonResource = isObject(spec.nonResourceAttributes) ? spec.nonResourceAttributes : undefined;
  const resource = isObject(spec.resourceAttributes) ? (spec.resourceAttributes as Record<string, unknown>) : undefined;
  if (nonResource && resource) {
    const shown = `authorization.NonResourceAttributes{Path:${JSON.stringify(String(nonResource.path ?? ''))}, Verb:${JSON.stringify(String(nonResource.verb ?? ''))}}`;
    return {
      type: 'FieldValueInvalid',
      field: 'spec.nonResourceAttributes',
      message: `Invalid value: ${shown}: cannot be specified in combination with resourceAttributes`,
    };
  }
  if (nonResource) {
    const path = String(nonResource.path ?? '');
    return { verb: String(nonResource.verb ?? ''), apiGroup: '', resource: '', nonResourceURL: path, path };
  }
  if (!resource) return fieldErrors.invalid('spec.resourceAttributes', null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified');
  const attrs: RequestAttributes = {
    verb: String(resource.verb ?? ''),
    apiGroup: String(resource.group ?? ''),
    resource: String(resource.resource ?? ''),
    namespace: String(resource.namespace ?? ''),
  };
  if (resource.subresource) attrs.subresource = String(resource.subresource);
  if (resource.name) attrs.name = String(resource.name);
  return attrs;
}

/** 422 as kube-apiserver words it for a review (the object has no kind or name in the message). */
function invalidReview(error: FieldError): ApiError {
  const err = invalid({ kind: '', group: 'authorization.k8s.io' }, '', [error]);
  delete err.status.details?.kind;
  return err;
}

function specOf(body: Json, kind: string): Record<string, Json> {
  if (isObject(body) && isObject(body.spec)) return body.spec;
  throw badRequest(`${kind}: spec is required`);
}

function decided(kind: string, spec: Record<string, Json>, decision: { allowed: boolean; reason: string }): Record<string, unknown> {
  return {
    kind,
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
    status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
  };
}

export function selfSubjectAccessReview(authorizer: Authorizer, user: UserInfo, body: Json): Record<string, unknown> {
  const spec = specOf(body, 'SelfSubjectAccessReview');
  const attrs = reviewedAttributes(spec);
  if ('field' in attrs) throw badRequest('SelfSubjectAccessReview: exactly one of spec.resourceAttributes and spec.nonResourceAttributes must be set');
  return decided('SelfSubjectAccessReview', spec, authorizer.decide(user, attrs));
}

/** The user and groups named in the spec, decided by the same authorizer (the server's RBAC). */
export function subjectAccessReview(authorizer: Authorizer, body: Json): Record<string, unknown> {
  const spec = specOf(body, 'SubjectAccessReview');
  const name = typeof spec.user === 'string' ? spec.user : '';
  const groups = Array.isArray(spec.groups) ? spec.groups.map(String) : [];
  if (!name && groups.length === 0) throw invalidReview(fieldErrors.invalid('spec.user', '', 'at least one of user or group must be specified'));
  const attrs = reviewedAttributes(spec);
  if ('field' in attrs) throw invalidReview(attrs);
  return decided('SubjectAccessReview', spec, authorizer.decide({ name, groups }, attrs));
}

/** Whose token: a known one is authenticated with its user (uid = name, as envtest's token file has it), any other is an error in the status, not a failed request. */
export function tokenReview(authenticator: Authenticator, body: Json, issuer: string): Record<string, unknown> {
  const spec = isObject(body) && isObject(body.spec) ? body.spec : {};
  const token = typeof spec.token === 'string' ? spec.token : '';
  if (!token) throw badRequest('token is required for TokenReview in authentication');
  const user = authenticator.userOf(token);
  const status = user
    ? { authenticated: true, user: { username: user.name, uid: user.name, groups: user.groups }, audiences: [issuer] }
    : { user: {}, error: 'invalid bearer token' };
  return { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', metadata: { creationTimestamp: null }, spec, status };
}

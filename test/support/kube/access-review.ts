// SelfSubjectAccessReview (authorization.k8s.io/v1), which `kubectl auth can-i` posts:
// the requesting user's own permission check, answered by the same authorizer.
import type { RequestAttributes, UserInfo } from './auth-types.js';
import type { Authorizer } from './authn.js';
import { isObject, type Json } from './schema-walk.js';
import { badRequest } from './status-errors.js';

export function selfSubjectAccessReview(authorizer: Authorizer, user: UserInfo, body: Json): Record<string, unknown> {
  const spec = isObject(body) && isObject(body.spec) ? body.spec : undefined;
  if (!spec) throw badRequest('SelfSubjectAccessReview: spec is required');
  let attrs: RequestAttributes;
  if (isObject(spec.nonResourceAttributes)) {
    const path = String(spec.nonResourceAttributes.path ?? '');
    attrs = { verb: String(spec.nonResourceAttributes.verb ?? ''), apiGroup: '', resource: '', nonResourceURL: path, path };
  } else if (isObject(spec.resourceAttributes)) {
    const r = spec.resourceAttributes as Record<string, unknown>;
    attrs = { verb: String(r.verb ?? ''), apiGroup: String(r.group ?? ''), resource: String(r.resource ?? ''), namespace: String(r.namespace ?? '') };
    if (r.subresource) attrs.subresource = String(r.subresource);
    if (r.name) attrs.name = String(r.name);
  } else throw badRequest('SelfSubjectAccessReview: exactly one of spec.resourceAttributes and spec.nonResourceAttributes must be set');
  const decision = authorizer.decide(user, attrs);
  return {
    kind: 'SelfSubjectAccessReview',
    apiVersion: 'authorization.k8s.io/v1',
    metadata: { creationTimestamp: null },
    spec,
    status: { allowed: decision.allowed, ...(decision.reason ? { reason: decision.reason } : {}) },
  };
}

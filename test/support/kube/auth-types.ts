// Types shared by the test API server (authentication) and the RBAC authorizer.

/** The identity a bearer token maps to, as kube-apiserver's authenticators produce it. */
export interface UserInfo {
  name: string;
  groups: string[];
}

/** What a request asks to do, in the terms RBAC rules are written in. */
export interface RequestAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
  nonResourceURL?: string;
  path?: string;
}

/** Read access to the stored RBAC objects (Role, RoleBinding, ClusterRole, ClusterRoleBinding). */
export interface RbacSource {
  list(apiVersion: string, kind: string): unknown[];
}

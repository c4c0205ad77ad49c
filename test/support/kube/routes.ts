// URL -> what is asked: a non-resource path or a resource request with group, version,
// namespace, resource, name and subresource, plus the RBAC verb it needs.
import type { RequestAttributes } from './auth-types.js';

export interface ResourceRoute {
  kind: 'resource';
  group: string;
  version: string;
  namespace: string;
  resource: string;
  name?: string;
  subresource?: string;
}

export interface NonResourceRoute {
  kind: 'nonResource';
  path: string;
}

export type Route = ResourceRoute | NonResourceRoute;

/** Parses /api/v1/... and /apis/<group>/<version>/...; discovery paths are non-resource. */
export function parseRoute(path: string, isResource: (group: string, version: string, resource: string) => boolean): Route {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  let group: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    [group, version, rest] = ['', parts[1]!, parts.slice(2)];
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  } else return { kind: 'nonResource', path };
  let namespace = '';
  // namespaces/<ns>/<resource>... unless <resource> is a subresource of the namespace itself.
  if (rest[0] === 'namespaces' && rest.length >= 3 && isResource(group, version, rest[2]!)) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  return {
    kind: 'resource',
    group,
    version,
    namespace,
    resource: resource!,
    ...(name !== undefined ? { name } : {}),
    ...(subresource !== undefined ? { subresource } : {}),
  };
}

function verbOf(method: string, route: ResourceRoute, query: URLSearchParams): string {
  const watch = query.get('watch');
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (route.name !== undefined) return 'get';
      return watch === '1' || watch === 'true' ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return route.name !== undefined ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

export function attributesOf(method: string, route: Route, query: URLSearchParams): RequestAttributes {
  if (route.kind === 'nonResource')
    return { verb: method === 'HEAD' ? 'get' : method.toLowerCase(), apiGroup: '', resource: '', nonResourceURL: route.path, path: route.path };
  // A namespace is its own namespace for authorization, as in kube-apiserver's RequestInfo.
  const namespace = route.group === '' && route.resource === 'namespaces' && route.name ? route.name : route.namespace;
  const attrs: RequestAttributes = { verb: verbOf(method, route, query), apiGroup: route.group, resource: route.resource, namespace };
  if (route.name !== undefined) attrs.name = route.name;
  if (route.subresource !== undefined) attrs.subresource = route.subresource;
  return attrs;
}

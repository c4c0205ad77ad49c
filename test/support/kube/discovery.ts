// Discovery documents: /api, /apis (plain and aggregated apidiscovery.k8s.io/v2, which
// kubectl 1.33 asks for first; captures 02-05, 12) and the per group/version resource lists.
import type { ResourceRegistry } from './registry.js';
import type { ResourceInfo } from './resources.js';

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export function wantsAggregated(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((p) => p.includes('as=APIGroupDiscoveryList') && p.includes('v=v2') && !p.includes('v=v2beta1'));
}

const STATUS_VERBS = ['get', 'patch', 'update'];

function resourceEntries(r: ResourceInfo): Record<string, unknown>[] {
  const main: Record<string, unknown> = { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: r.verbs };
  if (r.shortNames.length > 0) main.shortNames = r.shortNames;
  if (r.categories.length > 0) main.categories = r.categories;
  const entries = [main];
  if (r.hasStatus) entries.push({ name: `${r.resource}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: STATUS_VERBS });
  return entries;
}

export function apiResourceList(registry: ResourceRegistry, group: string, version: string): Record<string, unknown> | undefined {
  const resources = registry.resourcesOf(group, version);
  if (resources.length === 0) return undefined;
  const groupVersion = group ? `${group}/${version}` : version;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources: resources.flatMap(resourceEntries) };
}

export function apiVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groupEntry(name: string, versions: string[]): Record<string, unknown> {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: registry.groups().map((g) => groupEntry(g.name, g.versions)) };
}

export function apiGroup(registry: ResourceRegistry, name: string): Record<string, unknown> | undefined {
  const found = registry.groups().find((g) => g.name === name);
  return found ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(found.name, found.versions) } : undefined;
}

function aggregatedResource(r: ResourceInfo): Record<string, unknown> {
  // Built-ins leave responseKind's group/version empty; CRDs fill them in (capture 05).
  const responseKind = { group: r.custom ? r.group : '', version: r.custom ? r.version : '', kind: r.kind };
  const entry: Record<string, unknown> = {
    resource: r.resource,
    responseKind,
    scope: r.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: r.singular,
    verbs: r.verbs,
  };
  if (r.shortNames.length > 0) entry.shortNames = r.shortNames;
  if (r.categories.length > 0) entry.categories = r.categories;
  if (r.hasStatus) entry.subresources = [{ subresource: 'status', responseKind, verbs: STATUS_VERBS }];
  return entry;
}

function aggregatedGroup(registry: ResourceRegistry, name: string, versions: string[]): Record<string, unknown> {
  const metadata: Record<string, unknown> = name ? { name, creationTimestamp: null } : { creationTimestamp: null };
  return {
    metadata,
    versions: versions.map((v) => ({ version: v, resources: registry.resourcesOf(name, v).map(aggregatedResource), freshness: 'Current' })),
  };
}

export function aggregatedCore(registry: ResourceRegistry): Record<string, unknown> {
  return { kind: 'APIGroupDiscoveryList', apiVersion: 'apidiscovery.k8s.io/v2', metadata: {}, items: [aggregatedGroup(registry, '', ['v1'])] };
}

export function aggregatedGroups(registry: ResourceRegistry): Record<string, unknown> {
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: 'apidiscovery.k8s.io/v2',
    metadata: {},
    items: registry.groups().map((g) => aggregatedGroup(registry, g.name, g.versions)),
  };
}

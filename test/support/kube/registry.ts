// The served resource types: built-ins plus whatever the stored CRDs define. Discovery,
// OpenAPI and routing all read from here, so a CRD is served as soon as it is stored.
import { builtinResources, CRD_VERBS, type PrinterColumn, type ResourceInfo } from './resources.js';
import type { JsonSchema } from './schema-types.js';
import type { JsonObject } from './schema-walk.js';

export class ResourceRegistry {
  private readonly builtins = builtinResources();
  /** CRD name -> its served versions. */
  private readonly custom = new Map<string, ResourceInfo[]>();

  all(): ResourceInfo[] {
    return [...this.builtins, ...[...this.custom.values()].flat()];
  }

  find(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.all().find((r) => r.group === group && r.version === version && r.resource === resource);
  }

  /** Group names in discovery order: built-in groups first, then CRD groups by name. */
  groups(): { name: string; versions: string[] }[] {
    const byGroup = new Map<string, string[]>();
    for (const r of this.all()) {
      if (r.group === '') continue;
      const versions = byGroup.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      byGroup.set(r.group, versions);
    }
    return [...byGroup.entries()].map(([name, versions]) => ({ name, versions }));
  }

  resourcesOf(group: string, version: string): ResourceInfo[] {
    return this.all().filter((r) => r.group === group && r.version === version);
  }

  registerCrd(crd: JsonObject): void {
    const meta = crd.metadata as Record<string, any>;
    const spec = crd.spec as Record<string, any>;
    const names = spec.names as Record<string, any>;
    const versions = (spec.versions as Record<string, any>[]).filter((v) => v.served !== false);
    this.custom.set(
      meta.name,
      versions.map((v) => ({
        group: spec.group,
        version: v.name,
        resource: names.plural,
        kind: names.kind,
        listKind: names.listKind ?? `${names.kind}List`,
        singular: names.singular ?? String(names.kind).toLowerCase(),
        namespaced: spec.scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        verbs: CRD_VERBS,
        hasStatus: v.subresources?.status !== undefined,
        schema: v.schema?.openAPIV3Schema as JsonSchema,
        printerColumns: (v.additionalPrinterColumns ?? []) as PrinterColumn[],
        custom: true,
        selectableFields: ((v.selectableFields ?? []) as { jsonPath: string }[]).map((f) => f.jsonPath.replace(/^\./, '')),
      })),
    );
  }

  unregisterCrd(name: string): void {
    this.custom.delete(name);
  }
}

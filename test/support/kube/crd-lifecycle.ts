// What the apiextensions controllers do around a stored CRD: defaults, the status a new CRD
// is stored with (capture 10), and NamesAccepted/Established once accepted (capture 11).
import { validateCrdSpec } from './crd-structural.js';
import type { JsonObject } from './schema-walk.js';
import { invalid } from './status-errors.js';
import { nowTimestamp } from './wire-format.js';

export function validateCrd(crd: JsonObject): void {
  const errors = validateCrdSpec(crd);
  const name = String((crd.metadata as Record<string, unknown>)?.name ?? '');
  if (errors.length > 0) throw invalid({ kind: 'CustomResourceDefinition', group: 'apiextensions.k8s.io' }, name, errors);
}

export function defaultCrd(crd: JsonObject): void {
  const spec = crd.spec as Record<string, any>;
  spec.conversion ??= { strategy: 'None' };
  spec.names.singular ??= String(spec.names.kind).toLowerCase();
  spec.names.listKind ??= `${spec.names.kind}List`;
}

function storedVersions(spec: Record<string, any>): string[] {
  return (spec.versions as { name: string; storage?: boolean }[]).filter((v) => v.storage).map((v) => v.name);
}

/** A CRD as created: no conditions or accepted names yet; the controllers add them a moment later. */
export function initialStatus(crd: JsonObject): JsonObject {
  return { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: storedVersions(crd.spec as Record<string, any>) };
}

export function establishedStatus(crd: JsonObject): JsonObject {
  const spec = crd.spec as Record<string, any>;
  const now = nowTimestamp();
  return {
    conditions: [
      { type: 'NamesAccepted', status: 'True', lastTransitionTime: now, reason: 'NoConflicts', message: 'no conflicts found' },
      { type: 'Established', status: 'True', lastTransitionTime: now, reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' },
    ],
    acceptedNames: spec.names,
    storedVersions: storedVersions(spec),
  };
}

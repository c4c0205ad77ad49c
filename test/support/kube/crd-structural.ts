// CustomResourceDefinition checks kube-apiserver makes before accepting a CRD: names,
// structural schema (capture 10) and compilable CEL rules.
import { compileError } from './cel.js';
import type { JsonSchema } from './schema-types.js';
import { fieldErrors, type FieldError } from './status-errors.js';

/** Fields a value-validation branch (anyOf/allOf/oneOf/not) must not carry to be structural. */
const FORBIDDEN_IN_BRANCHES = [
  'type',
  'default',
  'nullable',
  'description',
  'title',
  'additionalProperties',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string',
] as const;

/** The one anyOf that may carry types: the int-or-string pair, exactly. */
function isIntOrStringPair(branches: JsonSchema[] | undefined): boolean {
  return JSON.stringify(branches) === JSON.stringify([{ type: 'integer' }, { type: 'string' }]);
}

export function validateCrdSpec(crd: Record<string, unknown>): FieldError[] {
  const errors: FieldError[] = [];
  const meta = (crd.metadata ?? {}) as Record<string, unknown>;
  const spec = (crd.spec ?? {}) as Record<string, any>;
  const names = (spec.names ?? {}) as Record<string, unknown>;
  if (!spec.group) errors.push(fieldErrors.required('spec.group'));
  if (!names.plural) errors.push(fieldErrors.required('spec.names.plural'));
  if (!names.kind) errors.push(fieldErrors.required('spec.names.kind'));
  if (spec.scope !== 'Cluster' && spec.scope !== 'Namespaced') errors.push(fieldErrors.notSupported('spec.scope', spec.scope ?? '', ['Cluster', 'Namespaced']));
  if (names.plural && spec.group && meta.name !== `${names.plural}.${spec.group}`) {
    errors.push(fieldErrors.invalid('metadata.name', meta.name ?? '', 'must be spec.names.plural+"."+spec.group'));
  }
  const versions = Array.isArray(spec.versions) ? (spec.versions as Record<string, any>[]) : [];
  if (versions.length === 0) errors.push(fieldErrors.invalid('spec.versions', versions, 'must have exactly one version marked as storage version'));
  if (versions.filter((v) => v.storage === true).length !== 1 && versions.length > 0) {
    errors.push(
      fieldErrors.invalid(
        'spec.versions',
        versions.map((v) => v.name),
        'must have exactly one version marked as storage version',
      ),
    );
  }
  // One schema shared by all versions is reported at spec.validation, as the apiserver hoists it.
  const schemas = versions.map((v) => JSON.stringify(v.schema?.openAPIV3Schema ?? null));
  const shared = schemas.length > 0 && schemas.every((s) => s === schemas[0]);
  versions.forEach((v, i) => {
    if (shared && i > 0) return;
    const base = shared ? 'spec.validation.openAPIV3Schema' : `spec.versions[${i}].schema.openAPIV3Schema`;
    const schema = v.schema?.openAPIV3Schema as JsonSchema | undefined;
    if (!schema) {
      errors.push(fieldErrors.required(base, 'schemas are required'));
      return;
    }
    if (schema.type !== 'object') errors.push(fieldErrors.required(`${base}.type`, 'must not be empty at the root'));
    checkStructural(schema, base, errors, false);
  });
  return errors;
}

function checkStructural(schema: JsonSchema, path: string, errors: FieldError[], inBranch: boolean): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return;
  if (inBranch) {
    for (const key of FORBIDDEN_IN_BRANCHES) {
      if ((schema as Record<string, unknown>)[key] !== undefined) errors.push(fieldErrors.forbidden(`${path}.${key}`, 'must be empty to be structural'));
    }
  } else {
    const typeless = !schema.type && !schema['x-kubernetes-int-or-string'] && !schema['x-kubernetes-preserve-unknown-fields'];
    if (typeless && (schema.properties || schema.items)) errors.push(fieldErrors.required(`${path}.type`, 'must not be empty for specified object fields'));
    if (schema.properties && schema.additionalProperties !== undefined && schema.additionalProperties !== false) {
      errors.push(fieldErrors.forbidden(`${path}.additionalProperties`, 'additionalProperties and properties are mutual exclusive'));
    }
    if (schema.type === 'array' && !schema.items) errors.push(fieldErrors.required(`${path}.items`, 'must be specified'));
  }
  const pairAllowed = !inBranch && schema['x-kubernetes-int-or-string'] === true;
  for (const combinator of ['anyOf', 'allOf', 'oneOf'] as const) {
    const branches = schema[combinator];
    if (!branches) continue;
    if (combinator === 'anyOf' && pairAllowed && isIntOrStringPair(branches)) continue;
    branches.forEach((b, i) => checkStructural(b, `${path}.${combinator}[${i}]`, errors, true));
  }
  if (schema.not) checkStructural(schema.not, `${path}.not`, errors, true);
  for (const [key, child] of Object.entries(schema.properties ?? {})) checkStructural(child, `${path}.properties[${key}]`, errors, inBranch);
  if (schema.items) checkStructural(schema.items, `${path}.items`, errors, inBranch);
  if (typeof schema.additionalProperties === 'object') checkStructural(schema.additionalProperties, `${path}.additionalProperties`, errors, inBranch);
  (schema['x-kubernetes-validations'] ?? []).forEach((rule, i) => {
    const problem = compileError(rule.rule);
    if (problem) errors.push(fieldErrors.invalid(`${path}.x-kubernetes-validations[${i}].rule`, rule.rule, `compilation failed: ${problem}`));
  });
}

// The checks of apps/v1 DaemonSet and Deployment validation a chart most easily trips:
// a selector, a template whose labels it matches, and containers with name and image.
import { isObject, type JsonObject } from './schema-walk.js';
import { fieldErrors, type FieldError } from './status-errors.js';

/** Go's %#v of a map[string]string, as the selector mismatch message prints it. */
function goStringMap(map: Record<string, string>): string {
  const entries = Object.keys(map)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(map[k])}`);
  return `map[string]string{${entries.join(', ')}}`;
}

export function validateWorkload(obj: JsonObject): FieldError[] {
  const spec = (isObject(obj.spec) ? obj.spec : {}) as Record<string, any>;
  const errors: FieldError[] = [];
  const matchLabels = (spec.selector?.matchLabels ?? {}) as Record<string, string>;
  const labels = (spec.template?.metadata?.labels ?? {}) as Record<string, string>;
  if (!isObject(spec.selector)) errors.push(fieldErrors.required('spec.selector'));
  else if (!Object.entries(matchLabels).every(([k, v]) => labels[k] === v)) {
    errors.push({
      type: 'FieldValueInvalid',
      field: 'spec.template.metadata.labels',
      message: `Invalid value: ${goStringMap(labels)}: \`selector\` does not match template \`labels\``,
    });
  }
  const containers = spec.template?.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) errors.push(fieldErrors.required('spec.template.spec.containers'));
  else {
    containers.forEach((c: Record<string, unknown>, i: number) => {
      if (!c.name) errors.push(fieldErrors.required(`spec.template.spec.containers[${i}].name`));
      if (!c.image) errors.push(fieldErrors.required(`spec.template.spec.containers[${i}].image`));
    });
  }
  return errors;
}

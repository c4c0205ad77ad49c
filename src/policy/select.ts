// Kubernetes label selector matching (metav1.LabelSelector semantics):
// matchLabels and matchExpressions are ANDed; an empty or absent selector
// selects every node (as DESIGN.md defines for nodeSelector).
import type { LabelSelector } from '../api/v1alpha1/policy.js';
import { DNS_SUBDOMAIN } from '../api/v1alpha1/policy-rules.js';

export type Labels = Readonly<Record<string, string>>;

export function selectorMatches(selector: LabelSelector | undefined, labels: Labels): boolean {
  if (!selector) return true;
  const has = (key: string): boolean => Object.hasOwn(labels, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (!has(key) || labels[key] !== value) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has(req.key) || !values.includes(labels[req.key]!)) return false;
        break;
      case 'NotIn':
        // As in Kubernetes: a node without the key satisfies NotIn.
        if (has(req.key) && values.includes(labels[req.key]!)) return false;
        break;
      case 'Exists':
        if (!has(req.key)) return false;
        break;
      case 'DoesNotExist':
        if (has(req.key)) return false;
        break;
    }
  }
  return true;
}

const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

/** Why `key` is not a valid label key ("prefix/name"), or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    return `label key "${key}": the prefix must be a DNS subdomain (lowercase, at most 253 characters)`;
  }
  if (name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key "${key}": the name must be 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
  }
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && LABEL_NAME.test(value))) return undefined;
  return `label value "${value}" must be empty or 1-63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric`;
}

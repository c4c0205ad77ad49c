// labelSelector and fieldSelector parsing and matching, with the apiserver's refusals.
import type { ResourceInfo } from './resources.js';
import type { JsonObject } from './schema-walk.js';
import { badRequest } from './status-errors.js';

export type Matcher = (obj: JsonObject) => boolean;

type LabelRequirement =
  { op: 'eq' | 'neq'; key: string; value: string } | { op: 'in' | 'notin'; key: string; values: string[] } | { op: 'exists' | 'notexists'; key: string };

/** Splits on commas that are not inside parentheses: `a in (x,y),b=c`. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function parseLabelRequirement(text: string): LabelRequirement {
  const setMatch = /^([A-Za-z0-9./_-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(text);
  if (setMatch) {
    const values = setMatch[3]!
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { op: setMatch[2] as 'in' | 'notin', key: setMatch[1]!, values };
  }
  const eqMatch = /^([A-Za-z0-9./_-]+)\s*(==|=|!=)\s*([A-Za-z0-9._-]*)$/.exec(text);
  if (eqMatch) return { op: eqMatch[2] === '!=' ? 'neq' : 'eq', key: eqMatch[1]!, value: eqMatch[3]! };
  const existsMatch = /^(!?)\s*([A-Za-z0-9./_-]+)$/.exec(text);
  if (existsMatch) return { op: existsMatch[1] ? 'notexists' : 'exists', key: existsMatch[2]! };
  throw badRequest(`unable to parse requirement: ${text}`);
}

export function parseLabelSelector(selector: string | null): Matcher {
  if (!selector) return () => true;
  const reqs = splitTopLevel(selector).map(parseLabelRequirement);
  return (obj) => {
    const labels = ((obj.metadata as Record<string, any> | undefined)?.labels ?? {}) as Record<string, string>;
    return reqs.every((r) => {
      const has = Object.hasOwn(labels, r.key);
      const value = labels[r.key];
      switch (r.op) {
        case 'eq':
          return has && value === r.value;
        case 'neq':
          return !has || value !== r.value;
        case 'in':
          return has && r.values.includes(value!);
        case 'notin':
          return !has || !r.values.includes(value!);
        case 'exists':
          return has;
        case 'notexists':
          return !has;
      }
    });
  };
}

/** The value a field selector compares against; absent fields compare as "". */
function fieldValue(obj: JsonObject, path: string): string {
  let current: unknown = obj;
  for (const part of path.split('.')) {
    if (typeof current !== 'object' || current === null) return '';
    current = (current as Record<string, unknown>)[part];
  }
  if (current === undefined || current === null) return '';
  return typeof current === 'object' ? JSON.stringify(current) : String(current);
}

/** Event's "source" field selector means source.component, as in the apiserver. */
const FIELD_ALIASES: Record<string, string> = { source: 'source.component' };

export function parseFieldSelector(selector: string | null, info: ResourceInfo): Matcher {
  if (!selector) return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...info.selectableFields];
  const reqs = splitTopLevel(selector).map((text) => {
    const m = /^([A-Za-z0-9._-]+)\s*(==|=|!=)\s*(.*)$/.exec(text);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${text}'`);
    const field = m[1]!;
    if (!allowed.includes(field)) {
      throw badRequest(
        info.custom ? `"${field}" is not a known field selector: only ${allowed.map((f) => `"${f}"`).join(', ')}` : `field label not supported: ${field}`,
      );
    }
    return { path: FIELD_ALIASES[field] ?? field, negate: m[2] === '!=', value: m[3]!.trim() };
  });
  return (obj) => reqs.every((r) => (fieldValue(obj, r.path) === r.value) !== r.negate);
}

/** labelSelector and fieldSelector of a list or watch request, both applied. */
export function selectorsOf(query: URLSearchParams, info: ResourceInfo): Matcher {
  const byLabel = parseLabelSelector(query.get('labelSelector'));
  const byField = parseFieldSelector(query.get('fieldSelector'), info);
  return (obj) => byLabel(obj) && byField(obj);
}

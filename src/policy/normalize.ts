// A validated policy document -> the pieces the engine merges: one entry per
// mergeable field, values normalised (port ranges, canonical CIDRs).
// Input must have passed load.ts's checks; a bad value here is a bug and throws
// naming the field.
import { formatCidr, parseCidr } from './cidr.js';
import type { ConntrackPolicyDoc, LabelSelector, NotrackRuleSpec, PolicySpecParsed } from '../api/v1alpha1/policy.js';
import { TIMEOUT_SYSCTLS } from './sysctl-keys.js';
import type { DesiredNotrackRule, PolicyMode, PortRange } from './types.js';

// spec.table and spec.pressure need no normalising: the API's parsed shapes (defaults filled in).
export type TableSpec = NonNullable<PolicySpecParsed['table']>;
export type PressureThresholds = NonNullable<PolicySpecParsed['pressure']>;

/** A pressure response, normalised: timeouts by sysctl key, with the field each came from (for refusals). */
export interface PressureResponseSpec {
  startPercent: number;
  stopPercent: number;
  /** sysctl file name -> seconds. */
  timeouts: Record<string, number>;
  /** sysctl file name -> its field path under spec.pressureResponse.timeouts. */
  fields: Record<string, string>;
}

export type FieldValue =
  | { kind: 'timeout'; sysctl: string; seconds: number }
  | { kind: 'table'; table: TableSpec }
  | { kind: 'notrack'; rule: DesiredNotrackRule; allowBroadMatch: boolean }
  | { kind: 'acceptUntracked'; accept: boolean }
  | { kind: 'pressure'; pressure: PressureThresholds }
  | { kind: 'pressureResponse'; response: PressureResponseSpec };

/**
 * One mergeable field. `field` is the spec path, which is also the merge key:
 * "spec.timeouts.tcp.establishedSeconds", "spec.table", "spec.notrack[loopback]",
 * "spec.acceptUntracked", "spec.pressure", "spec.pressureResponse".
 */
interface PolicyField {
  field: string;
  value: FieldValue;
}

export interface NormalizedPolicy {
  name: string;
  priority: number;
  mode: PolicyMode;
  nodeSelector?: LabelSelector;
  allowBelowSafeFloor: boolean;
  fields: PolicyField[];
}

export function normalizePolicy(doc: ConntrackPolicyDoc): NormalizedPolicy {
  const spec = doc.spec;
  const fields: PolicyField[] = [];
  for (const { field, sysctl, raw } of timeoutEntries(spec.timeouts)) {
    if (typeof raw !== 'number') throw new Error(`${field}: expected whole seconds, got ${JSON.stringify(raw)}`);
    fields.push({ field, value: { kind: 'timeout', sysctl, seconds: raw } });
  }
  // The table is one field: max and buckets are sized together (memory, chain
  // length), so taking them from different policies could give a pair that
  // neither author checked.
  if (spec.table) fields.push({ field: 'spec.table', value: { kind: 'table', table: spec.table } });
  for (const rule of spec.notrack ?? []) {
    fields.push({
      field: `spec.notrack[${rule.name}]`,
      value: { kind: 'notrack', rule: normalizeRule(rule), allowBroadMatch: rule.allowBroadMatch },
    });
  }
  if (spec.acceptUntracked !== undefined) {
    fields.push({ field: 'spec.acceptUntracked', value: { kind: 'acceptUntracked', accept: spec.acceptUntracked } });
  }
  if (spec.pressure) fields.push({ field: 'spec.pressure', value: { kind: 'pressure', pressure: spec.pressure } });
  // One field, like the table: thresholds and timeouts are chosen together.
  if (spec.pressureResponse) {
    const { startPercent, stopPercent, timeouts } = spec.pressureResponse;
    const response: PressureResponseSpec = { startPercent, stopPercent, timeouts: {}, fields: {} };
    for (const { field, sysctl, raw } of timeoutEntries(timeouts, 'spec.pressureResponse.timeouts')) {
      if (typeof raw !== 'number') throw new Error(`${field}: expected whole seconds, got ${JSON.stringify(raw)}`);
      response.timeouts[sysctl] = raw;
      response.fields[sysctl] = field;
    }
    fields.push({ field: 'spec.pressureResponse', value: { kind: 'pressureResponse', response } });
  }
  return {
    name: doc.metadata.name,
    priority: spec.priority,
    mode: spec.mode,
    ...(spec.nodeSelector ? { nodeSelector: spec.nodeSelector } : {}),
    allowBelowSafeFloor: spec.timeouts?.allowBelowSafeFloor ?? false,
    fields,
  };
}

function normalizeRule(rule: NotrackRuleSpec): DesiredNotrackRule {
  const field = `spec.notrack[${rule.name}]`;
  const out: DesiredNotrackRule = { name: rule.name, direction: rule.direction };
  if (rule.interface !== undefined) out.interface = rule.interface;
  if (rule.protocol !== undefined) out.protocol = rule.protocol;
  if (rule.ports) out.ports = rule.ports.map((p, i) => portRangeOrThrow(p, `${field}.ports[${i}]`));
  if (rule.sources) out.sources = rule.sources.map((c, i) => canonicalCidr(c, `${field}.sources[${i}]`));
  if (rule.destinations) out.destinations = rule.destinations.map((c, i) => canonicalCidr(c, `${field}.destinations[${i}]`));
  return out;
}

/** The timeouts a spec sets (under `at`: spec.timeouts, or a pressure response's), with their field path and sysctl key, raw values as written. */
export function timeoutEntries(timeouts: unknown, at = 'spec.timeouts'): Array<{ field: string; sysctl: string; raw: unknown }> {
  const entries: Array<{ field: string; sysctl: string; raw: unknown }> = [];
  for (const [path, sysctl] of Object.entries(TIMEOUT_SYSCTLS)) {
    const raw = path.split('.').reduce<unknown>((node, part) => (isObject(node) ? node[part] : undefined), timeouts);
    if (raw !== undefined) entries.push({ field: `${at}.${path}`, sysctl, raw });
  }
  return entries;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

export type PortRangeResult = { ok: true; range: PortRange } | { ok: false; reason: string };

/** 443 -> {443, 443}; "8000-8100" -> {8000, 8100}; each end within 1..65535, from <= to. */
export function parsePortSpec(spec: number | string): PortRangeResult {
  const [from, to = from] = typeof spec === 'number' ? [spec] : spec.split('-').map(Number);
  if (from === undefined || to === undefined || !Number.isInteger(from) || !Number.isInteger(to)) {
    return { ok: false, reason: `expected a port (443) or a range ("8000-8100"), got ${JSON.stringify(spec)}` };
  }
  if (from < 1 || from > 65535 || to < 1 || to > 65535) {
    return { ok: false, reason: `ports must be within 1..65535, got ${JSON.stringify(spec)}` };
  }
  if (from > to) return { ok: false, reason: `range start ${from} is above its end ${to}` };
  return { ok: true, range: { from, to } };
}

function portRangeOrThrow(spec: number | string, field: string): PortRange {
  const result = parsePortSpec(spec);
  if (!result.ok) throw new Error(`${field}: ${result.reason}`);
  return result.range;
}

function canonicalCidr(text: string, field: string): string {
  const result = parseCidr(text);
  if (!result.ok) throw new Error(`${field}: ${result.reason}`);
  return formatCidr(result.cidr);
}

// Checks the schema cannot express (or the CRD schema could only say
// vaguely): ranges within strings, relations between fields, exact CIDRs,
// label syntax. They run beside the schema, on the raw document.
import { z } from 'zod';
import { parseCidr } from './cidr.js';
import type { PolicyError } from './errors.js';
import { CIDR, LabelSelectorRequirement, PortSpec, Pressure, PressureResponse, Table } from '../api/v1alpha1/policy.js';
import { PORTS_NEED_PROTOCOL } from '../api/v1alpha1/policy-rules.js';
import { parsePortSpec, timeoutEntries } from './normalize.js';
import { labelKeyProblem, labelValueProblem } from './select.js';

type Problem = Pick<PolicyError, 'path' | 'message'>;

const CidrText = z.string().regex(CIDR);

/**
 * Runs on the raw document, piece by piece: each part (selector, table, a
 * rule, pressure, a timeout) is checked when it passes its own schema, so a
 * schema error elsewhere in the document does not hide these problems.
 */
export function semanticProblems(document: unknown): Problem[] {
  const spec = member(document, 'spec');
  const rules = listOf(member(spec, 'notrack'));
  const pressure = piece(Pressure, member(spec, 'pressure'));
  return [
    ...selectorProblems(member(spec, 'nodeSelector')),
    ...tableProblems(piece(Table, member(spec, 'table'))),
    ...rules.flatMap((rule, i) => ruleProblems(rule, `spec.notrack[${i}]`)),
    ...duplicateRuleNames(rules),
    ...expansionProblems(rules),
    ...(pressure && pressure.warningPercent >= pressure.criticalPercent
      ? [
          {
            path: 'spec.pressure.warningPercent',
            message: `must be below criticalPercent (${pressure.criticalPercent}), got ${pressure.warningPercent}`,
          },
        ]
      : []),
    ...pressureResponseProblems(piece(PressureResponse, member(spec, 'pressureResponse'))),
  ];
}

function pressureResponseProblems(response: z.output<typeof PressureResponse> | undefined): Problem[] {
  if (!response) return [];
  const problems: Problem[] = [];
  // Equal thresholds would end the response in the pass that started it whenever usage sits at startPercent.
  if (response.stopPercent >= response.startPercent) {
    problems.push({ path: 'spec.pressureResponse.stopPercent', message: `must be below startPercent (${response.startPercent}), got ${response.stopPercent}` });
  }
  if (timeoutEntries(response.timeouts).length === 0) {
    problems.push({ path: 'spec.pressureResponse.timeouts', message: 'names no timeout: a pressure response must lower at least one' });
  }
  return problems;
}

function member(object: unknown, key: string): unknown {
  return typeof object === 'object' && object !== null ? (object as Record<string, unknown>)[key] : undefined;
}

function listOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The value parsed by `schema`, or undefined when absent or invalid (the schema reports that). */
function piece<T>(schema: z.ZodType<T>, value: unknown): T | undefined {
  if (value === undefined) return undefined;
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function selectorProblems(selector: unknown): Problem[] {
  const problems: Problem[] = [];
  const labels = member(selector, 'matchLabels');
  for (const [key, value] of Object.entries(typeof labels === 'object' && labels !== null ? labels : {})) {
    if (typeof value !== 'string') continue;
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) problems.push({ path: `spec.nodeSelector.matchLabels.${key}`, message: problem });
  }
  for (const [i, raw] of listOf(member(selector, 'matchExpressions')).entries()) {
    const req = piece(LabelSelectorRequirement, raw);
    if (!req) continue;
    const path = `spec.nodeSelector.matchExpressions[${i}]`;
    const keyProblem = labelKeyProblem(req.key);
    if (keyProblem) problems.push({ path: `${path}.key`, message: keyProblem });
    const values = req.values ?? [];
    if ((req.operator === 'In' || req.operator === 'NotIn') && values.length === 0) {
      problems.push({ path: `${path}.values`, message: `operator ${req.operator} needs at least one value` });
    }
    if ((req.operator === 'Exists' || req.operator === 'DoesNotExist') && values.length > 0) {
      problems.push({ path: `${path}.values`, message: `operator ${req.operator} takes no values, got ${values.length}` });
    }
    for (const [j, value] of values.entries()) {
      const problem = labelValueProblem(value);
      if (problem) problems.push({ path: `${path}.values[${j}]`, message: problem });
    }
  }
  return problems;
}

function tableProblems(table: z.output<typeof Table> | undefined): Problem[] {
  const problems: Problem[] = [];
  if (table?.autoSize && (table.max !== undefined || table.buckets !== undefined)) {
    problems.push({ path: 'spec.table.autoSize', message: 'autoSize cannot be combined with max or buckets: give one or the other' });
  }
  const auto = table?.autoSize;
  if (auto?.minMax !== undefined && auto.maxMax !== undefined && auto.maxMax < auto.minMax) {
    problems.push({ path: 'spec.table.autoSize.maxMax', message: `must be at least minMax (${auto.minMax}), got ${auto.maxMax}` });
  }
  return problems;
}

function ruleProblems(rule: unknown, path: string): Problem[] {
  const problems: Problem[] = [];
  const ports = listOf(member(rule, 'ports'));
  if (PORTS_NEED_PROTOCOL.violatedBy({ ports, protocol: member(rule, 'protocol') })) {
    problems.push({ path: `${path}.protocol`, message: PORTS_NEED_PROTOCOL.message });
  }
  for (const [i, raw] of ports.entries()) {
    const port = piece(PortSpec, raw);
    const result = port === undefined ? undefined : parsePortSpec(port);
    if (result && !result.ok) problems.push({ path: `${path}.ports[${i}]`, message: result.reason });
  }
  const families = (list: 'sources' | 'destinations'): Set<number> => {
    const found = new Set<number>();
    for (const [i, raw] of listOf(member(rule, list)).entries()) {
      const text = piece(CidrText, raw);
      const result = text === undefined ? undefined : parseCidr(text);
      if (result?.ok) found.add(result.cidr.family);
      else if (result) problems.push({ path: `${path}.${list}[${i}]`, message: result.reason });
    }
    return found;
  };
  const src = families('sources');
  const dst = families('destinations');
  // A packet has one family: IPv4-only sources with IPv6-only destinations match nothing.
  if (src.size === 1 && dst.size === 1 && [...src][0] !== [...dst][0]) {
    problems.push({ path: `${path}.destinations`, message: 'sources and destinations are of different IP families: the rule could never match' });
  }
  return problems;
}

function duplicateRuleNames(rules: readonly unknown[]): Problem[] {
  const first = new Map<string, number>();
  const problems: Problem[] = [];
  for (const [i, rule] of rules.entries()) {
    const name = member(rule, 'name');
    if (typeof name !== 'string') continue;
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, i);
    else problems.push({ path: `spec.notrack[${i}].name`, message: `duplicate rule name "${name}" (also spec.notrack[${earlier}])` });
  }
  return problems;
}

/**
 * iptables has no sets: a rule becomes one line per source x destination x
 * group of up to 15 ports, per hook (and again for acceptUntracked). The
 * schema allows 32 x 32 x 32 x 2 groups; that is 10^5-10^6 lines, minutes
 * of iptables-restore and a 100 MB input. This is what the iptables backends
 * apply in one go in a few seconds (measured: ~4,000 lines/s with
 * iptables-nft); nftables uses sets and needs far less.
 */
const MAX_IPTABLES_LINES_PER_HOOK = 4096;

function expansionProblems(rules: readonly unknown[]): Problem[] {
  let lines = 0;
  for (const rule of rules) {
    const count = (key: string) => Math.max(1, listOf(member(rule, key)).length);
    const portWeight = listOf(member(rule, 'ports')).reduce<number>((w, p) => w + (typeof p === 'string' && p.includes('-') ? 2 : 1), 0);
    lines += count('sources') * count('destinations') * Math.max(1, Math.ceil(portWeight / 15));
  }
  if (lines <= MAX_IPTABLES_LINES_PER_HOOK) return [];
  return [
    {
      path: 'spec.notrack',
      message: `expands to ${lines} iptables rules per hook (sources x destinations x groups of 15 ports, summed over the rules), more than the ${MAX_IPTABLES_LINES_PER_HOOK} allowed; use fewer, wider CIDRs or split the rules across nodes`,
    },
  ];
}

// x-kubernetes-validations rules evaluated with @marcbachmann/cel-js. Values are converted
// the way the apiserver types them: integers (and whole int-or-string numbers) are CEL ints.
import { Environment, parse } from '@marcbachmann/cel-js';
import type { JsonSchema, ValidationRule } from './schema-types.js';
import { isIntOrString, isObject, propertySchema } from './schema-walk.js';

// kube-apiserver's CEL has the strings extension's format(); messageExpressions need it, as
// concatenating string(int) has no bounded cost and the real server refuses such a CRD.
const env = () =>
  new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false }).registerFunction({
    name: 'format',
    receiverType: 'string',
    returnType: 'string',
    params: [{ name: 'args', type: 'list' }],
    handler: format,
  });

/** The %s and %d verbs of the strings extension's format(); any other verb is an evaluation error. */
function format(template: string, args: unknown[]): string {
  let next = 0;
  return template.replace(/%([%sd])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    if (next >= args.length) throw new Error(`format: not enough arguments for ${template}`);
    const arg = args[next++];
    if (verb === 'd' && typeof arg !== 'bigint') throw new Error(`format: %d needs an int, got ${typeof arg}`);
    return String(arg);
  });
}

/** Converts JSON into CEL values guided by the schema (integer -> bigint). */
export function toCel(value: unknown, schema: JsonSchema | undefined): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    const intTyped = schema?.type === 'integer' || (schema !== undefined && isIntOrString(schema));
    return intTyped && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCel(v, schema?.items));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toCel(v, schema ? propertySchema(schema, k) : undefined);
    return out;
  }
  return value;
}

/** Parse errors for a rule, or undefined when it compiles. */
export function compileError(rule: string): string | undefined {
  try {
    parse(rule);
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

export function usesOldSelf(rule: ValidationRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

export type RuleOutcome = { ok: true } | { ok: false; message: string } | { ok: false; evalError: string };

/** Evaluates one rule; self/oldSelf are already CEL-converted. */
export function evaluateRule(rule: ValidationRule, self: unknown, oldSelf: unknown): RuleOutcome {
  const vars: Record<string, unknown> = { self };
  if (oldSelf !== undefined) vars.oldSelf = oldSelf;
  let result: unknown;
  try {
    result = env().evaluate(rule.rule, vars);
  } catch (err) {
    return { ok: false, evalError: (err as Error).message.split('\n')[0] ?? String(err) };
  }
  if (result === true) return { ok: true };
  return { ok: false, message: ruleMessage(rule, vars) };
}

function ruleMessage(rule: ValidationRule, vars: Record<string, unknown>): string {
  if (rule.messageExpression) {
    try {
      const msg = env().evaluate(rule.messageExpression, vars);
      if (typeof msg === 'string' && msg.trim() !== '') return msg;
    } catch {
      // The apiserver falls back to the static message when messageExpression fails.
    }
  }
  return rule.message ?? `failed rule: ${rule.rule}`;
}

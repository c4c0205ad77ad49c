// Zod's messages ("Invalid input", "must match pattern /^...$/") are vague;
// this turns each issue into a reason a user can act on: the expected type,
// the allowed values or range, and what was given.
import type { z } from 'zod';
import { formatPath, type PolicyError } from './errors.js';
import { CIDR, ConntrackPolicy, DNS_LABEL, INTERFACE_NAME, PORT_RANGE } from '../api/v1alpha1/policy.js';
import { DNS_SUBDOMAIN } from '../api/v1alpha1/policy-rules.js';

type Issue = z.core.$ZodIssue;

const PORT_HINT = 'expected a port (443) or an inclusive range ("8000-8100")';

const PATTERN_HINTS = new Map<string, string>([
  [String(DNS_LABEL), 'expected lowercase letters, digits and "-", starting and ending with a letter or digit'],
  [String(DNS_SUBDOMAIN), 'expected lowercase letters, digits, "-" and ".", each dot-separated part starting and ending with a letter or digit'],
  [String(PORT_RANGE), PORT_HINT],
  [String(CIDR), 'expected an IPv4 or IPv6 CIDR such as "10.0.0.0/8" or "fd00::/64"'],
  [String(INTERFACE_NAME), 'expected an interface name: 1 to 15 letters, digits or _.:@+-'],
]);

const TYPE_NAMES: Readonly<Record<string, string>> = {
  int: 'a whole number',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

/** The PolicyErrors for one document's zod issues (path relative to the document). */
export function issueErrors(issues: readonly Issue[]): PolicyError[] {
  return issues.flatMap((issue): PolicyError[] => {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(issue.path);
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: `unknown field${allowed.length ? `; allowed here: ${allowed.join(', ')}` : ''}`,
      }));
    }
    return [{ path: formatPath(issue.path), message: issueMessage(issue) }];
  });
}

function issueMessage(issue: Issue): string {
  const got = describe(issue.input);
  const seconds = isSecondsPath(issue.path);
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `required: expected ${typeName(issue.expected)}`;
      // "10m" where whole seconds are wanted: the one slip worth a hint since the fields are ...Seconds.
      if (seconds && typeof issue.input === 'string') return `expected whole seconds (the field is in seconds: 600, not "10m"), got ${got}`;
      // YAML reads unquoted true, 1 or 1.0 as non-strings: the usual slip in label values.
      if (issue.expected === 'string' && (typeof issue.input === 'boolean' || typeof issue.input === 'number')) {
        return `expected a string, got ${got} (quote it: "${String(issue.input)}")`;
      }
      return `expected ${typeName(issue.expected)}, got ${got}`;
    case 'invalid_union': {
      const hint = isPortPath(issue.path) ? PORT_HINT : undefined;
      const expected = issue.errors.flatMap((branch) => branch.flatMap((i) => (i.code === 'invalid_type' ? [typeName(i.expected)] : [])));
      return `${hint ?? `expected ${expected.join(' or ')}`}, got ${got}`;
    }
    case 'invalid_value':
      if (issue.input === undefined) return `required: must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}, got ${got}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'invalid_format':
      if (issue.format === 'regex' && issue.pattern) {
        return `${PATTERN_HINTS.get(issue.pattern) ?? `expected text matching ${issue.pattern}`}, got ${got}`;
      }
      return `expected a ${issue.format}, got ${got}`;
    case 'too_small':
      return bound('at least', 'more than', issue.origin, issue.minimum, issue.inclusive, seconds, got);
    case 'too_big':
      return bound('at most', 'less than', issue.origin, issue.maximum, issue.inclusive, seconds, got);
    default:
      return issue.message;
  }
}

function bound(
  inclusiveWord: string,
  exclusiveWord: string,
  origin: string,
  limit: number | bigint,
  inclusive: boolean | undefined,
  seconds: boolean,
  got: string,
): string {
  const word = inclusive === false ? exclusiveWord : inclusiveWord;
  const unit = seconds ? (limit === 1 ? ' second' : ' seconds') : '';
  if (origin === 'array') return `must have ${word} ${limit} item${limit === 1 ? '' : 's'}, got ${got}`;
  if (origin === 'string') return `must be ${word} ${limit} characters long, got ${got}`;
  return `must be ${word} ${limit}${unit}, got ${got}`;
}

function typeName(expected: string): string {
  return TYPE_NAMES[expected] ?? expected;
}

function describe(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return `a list of ${input.length}`;
  if (typeof input === 'object') return 'a mapping';
  if (typeof input === 'string') return JSON.stringify(input);
  return String(input);
}

function isSecondsPath(path: readonly PropertyKey[]): boolean {
  return String(path[path.length - 1]).endsWith('Seconds');
}

function isPortPath(path: readonly PropertyKey[]): boolean {
  return path[path.length - 2] === 'ports';
}

// Walks the schema along `path` to list the fields an object there accepts.
interface SchemaNode {
  _zod: { def: { innerType?: SchemaNode; element?: SchemaNode; shape?: Record<string, SchemaNode> } };
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  const unwrap = (node: SchemaNode): SchemaNode => (node._zod.def.innerType ? unwrap(node._zod.def.innerType) : node);
  let node: SchemaNode | undefined = ConntrackPolicy as unknown as SchemaNode;
  for (const part of path) {
    const def: SchemaNode['_zod']['def'] = unwrap(node)._zod.def;
    node = typeof part === 'number' ? def.element : def.shape?.[String(part)];
    if (!node) return [];
  }
  return Object.keys(unwrap(node)._zod.def.shape ?? {});
}

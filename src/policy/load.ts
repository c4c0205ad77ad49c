// Policy text -> validated ConntrackPolicy documents, or every error at once.
// Pure: the caller reads the file and passes its text.
import { loadAll, YAMLException } from 'js-yaml';
import type { PolicyError } from './errors.js';
export { formatPolicyErrors, type PolicyError } from './errors.js';
import { issueErrors } from './issue-messages.js';
import { ConntrackPolicy, type ConntrackPolicyDoc } from '../api/v1alpha1/policy.js';
import { semanticProblems } from './semantic.js';

export type PolicyParseResult = { policies: ConntrackPolicyDoc[] } | { errors: PolicyError[] };

/**
 * Bounds on a policy file, checked before anything else looks at its content.
 * An alias is a reference, so a few hundred bytes can stand for 10^10 nodes:
 * the decoded tree is weighed (each node visit, each string's length) before
 * any validation or serialisation touches it.
 */
export const POLICY_LIMITS = {
  maxBytes: 1 << 20,
  maxDocuments: 1000,
  maxAliasesPerDocument: 100,
  /** Node visits plus string characters of the decoded documents, aliases expanded. */
  maxExpandedSize: 4 << 20,
} as const;

/** What to write to say "no policies" on purpose (an empty file is an accident, not a decision). */
export const EXPLICIT_NO_POLICIES = '[]';

/**
 * Parses a YAML stream of ConntrackPolicy documents. Returns all policies, or
 * all errors (limits, syntax, schema, semantic, duplicate names) when there is
 * any: a file is used whole or not at all. A file with no document at all
 * (empty, comments only) is an error; a document that is an empty list (`[]`)
 * says "no policies" on purpose.
 */
export function parsePolicyDocuments(text: string, source: string): PolicyParseResult {
  const refuse = (message: string): PolicyParseResult => ({ errors: [{ source, path: '', message }] });
  if (text.length > POLICY_LIMITS.maxBytes) return refuse(`larger than ${POLICY_LIMITS.maxBytes} bytes`);
  let documents: unknown[];
  try {
    documents = loadAll(text, { maxAliases: POLICY_LIMITS.maxAliasesPerDocument });
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    return refuse(`YAML syntax error${where}: ${err.reason}`);
  }
  if (documents.length > POLICY_LIMITS.maxDocuments) return refuse(`${documents.length} documents, more than the ${POLICY_LIMITS.maxDocuments} allowed`);
  if (expandedSize(documents, POLICY_LIMITS.maxExpandedSize) > POLICY_LIMITS.maxExpandedSize) {
    return refuse(`expands (aliases included) to more than ${POLICY_LIMITS.maxExpandedSize} nodes and characters`);
  }
  const present = documents.map((object, i) => ({ object, document: i + 1 })).filter(({ object }) => object !== null && object !== undefined);
  if (present.length === 0)
    return refuse(`no ConntrackPolicy document (an empty file is refused; to remove every policy write "${EXPLICIT_NO_POLICIES}" or delete the file)`);
  return validatePolicyObjects(
    present.filter(({ object }) => !(Array.isArray(object) && object.length === 0)),
    source,
  );
}

/** Node visits plus string lengths of `value` with shared references counted each time; stops once past `budget`. */
function expandedSize(value: unknown, budget: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0 && size <= budget) {
    const v = stack.pop();
    size += 1;
    if (typeof v === 'string') size += v.length;
    else if (Array.isArray(v)) for (const child of v) stack.push(child);
    else if (typeof v === 'object' && v !== null) {
      for (const [key, child] of Object.entries(v)) {
        size += key.length;
        stack.push(child);
      }
    }
  }
  return size;
}

/** Validates already-decoded documents (from a file, or objects from the API). `document` is the 1-based position for messages. */
export function validatePolicyObjects(documents: ReadonlyArray<{ object: unknown; document: number }>, source: string): PolicyParseResult {
  const policies: ConntrackPolicyDoc[] = [];
  const errors: PolicyError[] = [];
  const firstByName = new Map<string, number>();
  for (const { object, document } of documents) {
    const policy = nameOf(object);
    const where = { source, document, ...(policy !== undefined ? { policy } : {}) };
    if (policy !== undefined) {
      const earlier = firstByName.get(policy);
      if (earlier !== undefined) {
        errors.push({ ...where, path: 'metadata.name', message: `duplicate policy name (also document ${earlier})` });
      } else {
        firstByName.set(policy, document);
      }
    }
    const parsed = ConntrackPolicy.safeParse(object, { reportInput: true });
    const problems = [...(parsed.success ? [] : issueErrors(parsed.error.issues)), ...semanticProblems(object)];
    errors.push(...problems.map((p) => ({ ...where, ...p })));
    if (parsed.success && problems.length === 0) policies.push(ownedPart(parsed.data));
  }
  return errors.length ? { errors } : { policies };
}

/** Validate each policy on its own: one invalid policy must not take the others down (the API's objects, for the agent and the controller). */
export function validPolicies(items: readonly unknown[]): { policies: ConntrackPolicyDoc[]; errors: PolicyError[] } {
  const policies: ConntrackPolicyDoc[] = [];
  const errors: PolicyError[] = [];
  for (const object of items) {
    const r = validatePolicyObjects([{ object, document: 1 }], 'api');
    if ('errors' in r) errors.push(...r.errors);
    else policies.push(...r.policies);
  }
  return { policies, errors };
}

/**
 * Only the keys we own travel further: metadata the schema lets through for
 * the API server's sake and any status are dropped here (a policy's status is
 * never read from a file or a policy object).
 */
function ownedPart(doc: ConntrackPolicyDoc): ConntrackPolicyDoc {
  const { name, generation, uid, resourceVersion, labels, annotations } = doc.metadata;
  const metadata = Object.fromEntries(Object.entries({ name, generation, uid, resourceVersion, labels, annotations }).filter(([, v]) => v !== undefined));
  return { apiVersion: doc.apiVersion, kind: doc.kind, metadata: metadata as ConntrackPolicyDoc['metadata'], spec: doc.spec };
}

function nameOf(object: unknown): string | undefined {
  const metadata = (object as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof metadata?.name === 'string' ? metadata.name : undefined;
}

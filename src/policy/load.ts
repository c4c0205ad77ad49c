// Policy text -> validated ConntrackPolicy documents, or every error at once.
// Pure: the caller reads the file and passes its text.
import { loadAll, YAMLException } from 'js-yaml';
import type { PolicyError } from './errors.js';
export { formatPolicyErrors, type PolicyError } from './errors.js';
import { issueErrors } from './issue-messages.js';
import { ConntrackPolicy, type ConntrackPolicyDoc } from './schema.js';
import { semanticProblems } from './semantic.js';

export type PolicyParseResult = { policies: ConntrackPolicyDoc[] } | { errors: PolicyError[] };

/**
 * Parses a YAML stream of ConntrackPolicy documents (empty documents are
 * skipped). Returns all policies, or all errors (syntax, schema, semantic,
 * duplicate names) when there is any: a file is used whole or not at all.
 */
export function parsePolicyDocuments(text: string, source: string): PolicyParseResult {
  let documents: unknown[];
  try {
    documents = loadAll(text);
  } catch (err) {
    if (!(err instanceof YAMLException)) throw err;
    const where = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
    return { errors: [{ source, path: '', message: `YAML syntax error${where}: ${err.reason}` }] };
  }
  return validatePolicyObjects(
    documents.map((object, i) => ({ object, document: i + 1 })).filter(({ object }) => object !== null && object !== undefined),
    source,
  );
}

/** Validates already-decoded documents (from a file, or objects from the API). `document` is the 1-based position for messages. */
export function validatePolicyObjects(
  documents: ReadonlyArray<{ object: unknown; document: number }>,
  source: string,
): PolicyParseResult {
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
    if (parsed.success && problems.length === 0) policies.push(parsed.data);
  }
  return errors.length ? { errors } : { policies };
}

function nameOf(object: unknown): string | undefined {
  const metadata = (object as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof metadata?.name === 'string' ? metadata.name : undefined;
}

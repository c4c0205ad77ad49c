// Benchmark of many policies at once: `node --import tsx bench/many-policies.bench.ts`.
// Validation and the merge by priority of N policies that all set the same
// field (the worst case for the merge), and the loader on a file at its
// document limit. Target: linear (10x the policies, about 10x the time); a
// file over the document limit is refused before any of this runs.
import { effectivePolicy } from '../src/policy/effective.js';
import { parsePolicyDocuments, POLICY_LIMITS, validatePolicyObjects } from '../src/policy/load.js';

const doc = (i: number) => ({
  apiVersion: 'conntrack.io/v1alpha1',
  kind: 'ConntrackPolicy',
  metadata: { name: `p${i}` },
  spec: { priority: 5, timeouts: { tcp: { establishedSeconds: 600 } }, notrack: [{ name: `r${i}`, interface: 'lo' }] },
});

function ms(fn: () => unknown): number {
  const started = performance.now();
  fn();
  return Math.round(performance.now() - started);
}

for (const n of [1_000, 10_000, 30_000]) {
  const objects = Array.from({ length: n }, (_, i) => ({ object: doc(i), document: i + 1 }));
  let policies: ReturnType<typeof validatePolicyObjects> = { policies: [] };
  const validate = ms(() => (policies = validatePolicyObjects(objects, 'bench')));
  if (!('policies' in policies)) throw new Error('the bench policies must be valid');
  const valid = policies.policies;
  const merge = ms(() => effectivePolicy(valid, {}, {}));
  process.stdout.write(`${n} policies: validate ${validate} ms, merge ${merge} ms\n`);
}

const file = Array.from({ length: POLICY_LIMITS.maxDocuments }, (_, i) => JSON.stringify(doc(i))).join('\n---\n');
process.stdout.write(`a file of ${POLICY_LIMITS.maxDocuments} documents: parsed and validated in ${ms(() => parsePolicyDocuments(file, 'bench'))} ms\n`);
const over = `${file}\n---\n${JSON.stringify(doc(POLICY_LIMITS.maxDocuments))}`;
process.stdout.write(`a file of ${POLICY_LIMITS.maxDocuments + 1} documents: refused in ${ms(() => parsePolicyDocuments(over, 'bench'))} ms\n`);

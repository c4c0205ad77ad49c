// Fuzz: mutated policy files (the examples, edited by a careless or hostile
// hand) through the loader and on to what a backend would be given. No input
// throws, none takes long, every error of a refused file points into it (its
// document, policy name and a field path that exists there), and whatever is
// accepted is fully validated: every rule name, interface and CIDR a backend
// renders is one the schema allows, and no rendered firewall line carries a
// control character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import { renderIptablesChains } from '../../src/kernel/notrack/render-iptables.js';
import { renderNftLines } from '../../src/kernel/notrack/render-nft.js';
import { parseCidr } from '../../src/policy/cidr.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { formatPolicyErrors, parsePolicyDocuments, type PolicyError } from '../../src/policy/load.js';
import { DNS_LABEL, INTERFACE_NAME } from '../../src/api/v1alpha1/policy.js';
import { cases } from './seeded.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const SEEDS = readdirSync(EXAMPLES).map((name) => readFileSync(new URL(name, EXAMPLES), 'utf8'));
const COUNT = 400;
const BOUND_MS = 1000;

/** Refusals of the file as a whole (size, syntax, document count, aliases, emptiness): no document, no field. */
const WHOLE_FILE =
  /^(larger than \d+ bytes|YAML syntax error( at line \d+, column \d+)?: .+|\d+ documents, more than the \d+ allowed|expands .+|no ConntrackPolicy document .+)$/s;

/**
 * What the field path ("spec.notrack[0].ports[1]") leads to in value, or undefined where it leads
 * nowhere. Keys may hold dots (label keys such as "kubernetes.io/os"), so each key present is tried
 * as a prefix of the rest.
 */
function find(value: unknown, path: string): { at: unknown } | undefined {
  if (path === '') return { at: value };
  if (Array.isArray(value)) {
    const index = /^\[(\d+)\]\.?/.exec(path);
    return index && Number(index[1]) < value.length ? find(value[Number(index[1])], path.slice(index[0].length)) : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    const rest = path.startsWith(key) ? path.slice(key.length) : undefined;
    const found = rest === '' ? { at: child } : rest?.startsWith('[') ? find(child, rest) : rest?.startsWith('.') ? find(child, rest.slice(1)) : undefined;
    if (found) return found;
  }
  return undefined;
}

const isMapping = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * An error names what it is about: a whole-file refusal names no field; any other names the
 * document it was found in (and the policy there by its name) and a field path of that document
 * that exists, or whose last field is missing from a mapping that exists (a required field).
 */
function assertPointsIntoInput(e: PolicyError, input: string, what: string): void {
  assert.equal(e.source, 'fuzz.yaml', what);
  if (e.document === undefined) {
    assert.equal(e.path, '', what);
    assert.match(e.message, WHOLE_FILE, what);
    return;
  }
  assert.ok(e.message.trim().length > 0, what);
  const doc = loadAll(input)[e.document - 1];
  assert.notEqual(doc, undefined, `${what}: no document ${e.document}`);
  const name = (doc as { metadata?: { name?: unknown } } | null)?.metadata?.name;
  assert.equal(e.policy, typeof name === 'string' ? name : undefined, what);
  const field = /(?:^|\.)[^.[\]]+$/.exec(e.path);
  const parent = field ? find(doc, e.path.slice(0, field.index)) : undefined;
  assert.ok(find(doc, e.path) || (parent && isMapping(parent.at)), `${what}: no such field in the document`);
}

test(`policy loader: ${COUNT} mutated files, none throws, none takes over ${BOUND_MS} ms, refused ones point into the file, accepted ones render safely`, () => {
  let accepted = 0;
  let pointing = 0;
  for (const { seed, input } of cases(SEEDS, COUNT, 1500)) {
    const started = performance.now();
    const result = parsePolicyDocuments(input, 'fuzz.yaml');
    const ms = performance.now() - started;
    assert.ok(ms < BOUND_MS, `seed ${seed}: ${Math.round(ms)} ms`);
    if ('errors' in result) {
      assert.ok(result.errors.length > 0, `seed ${seed}: refused without an error`);
      for (const e of result.errors) assertPointsIntoInput(e, input, `seed ${seed}: ${formatPolicyErrors([e])}`);
      pointing += result.errors.filter((e) => e.document !== undefined).length;
      continue;
    }
    accepted++;
    for (const doc of result.policies) {
      assert.deepEqual(Object.keys(doc).sort(), ['apiVersion', 'kind', 'metadata', 'spec'], `seed ${seed}: only owned keys`);
    }
    const desired = effectivePolicy(result.policies, {}, {}).desired;
    for (const rule of desired.notrack) {
      assert.match(rule.name, DNS_LABEL, `seed ${seed}`);
      if (rule.interface !== undefined) assert.match(rule.interface, INTERFACE_NAME, `seed ${seed}`);
      for (const c of [...(rule.sources ?? []), ...(rule.destinations ?? [])]) assert.ok(parseCidr(c).ok, `seed ${seed}: ${c}`);
    }
    const lines = [
      ...(['ipv4', 'ipv6'] as const).flatMap((f) =>
        [...renderIptablesChains({ rules: desired.notrack, acceptUntracked: desired.acceptUntracked }, f).values()].flat(),
      ),
      ...renderNftLines({ rules: desired.notrack, acceptUntracked: false }),
    ];
    for (const line of lines) assert.match(line, /^[\x20-\x7e]+$/, `seed ${seed}: ${JSON.stringify(line)}`);
  }
  // The mutations must leave some files valid, or the rendering checks above checked nothing.
  assert.ok(accepted > COUNT / 20, `only ${accepted} of ${COUNT} accepted`);
  // And some refusals must name a field, or the field-path check above checked nothing.
  assert.ok(pointing > COUNT / 20, `only ${pointing} errors name a document and field`);
});

test('policy loader: alias bombs of every shape are refused quickly', () => {
  for (let levels = 1; levels <= 12; levels++) {
    for (const width of [2, 5, 9]) {
      const anchors = ['a0: &a0 [x]'];
      for (let i = 1; i <= levels; i++) anchors.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(', ')}]`);
      const text = `apiVersion: conntrack.io/v1alpha1\nkind: ConntrackPolicy\nmetadata: {name: bomb}\nspec: {}\nstatus:\n${anchors.map((l) => `  ${l}`).join('\n')}\n`;
      const started = performance.now();
      const result = parsePolicyDocuments(text, 'bomb.yaml');
      assert.ok(performance.now() - started < BOUND_MS, `levels ${levels} width ${width}`);
      if (width ** levels > 1e6) assert.ok('errors' in result, `levels ${levels} width ${width}: ${width ** levels} leaves accepted`);
      else if ('policies' in result) assert.equal(JSON.stringify(result.policies).includes('"status"'), false);
    }
  }
});

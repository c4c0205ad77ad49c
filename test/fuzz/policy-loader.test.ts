// Fuzz: mutated policy files (the examples, edited by a careless or hostile
// hand) through the loader and on to what a backend would be given. No input
// throws, none takes long, and whatever is accepted is fully validated: every
// rule name, interface and CIDR a backend renders is one the schema allows,
// and no rendered firewall line carries a control character.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { renderIptablesChains } from '../../src/kernel/notrack/render-iptables.js';
import { renderNftLines } from '../../src/kernel/notrack/render-nft.js';
import { parseCidr } from '../../src/policy/cidr.js';
import { effectivePolicy } from '../../src/policy/effective.js';
import { parsePolicyDocuments } from '../../src/policy/load.js';
import { DNS_LABEL, INTERFACE_NAME } from '../../src/api/v1alpha1/policy.js';
import { cases } from './seeded.js';

const EXAMPLES = new URL('../../examples/', import.meta.url);
const SEEDS = readdirSync(EXAMPLES).map((name) => readFileSync(new URL(name, EXAMPLES), 'utf8'));
const COUNT = 400;
const BOUND_MS = 1000;

test(`policy loader: ${COUNT} mutated files, none throws, none takes over ${BOUND_MS} ms, all accepted ones render safely`, () => {
  let accepted = 0;
  for (const { seed, input } of cases(SEEDS, COUNT, 1500)) {
    const started = performance.now();
    const result = parsePolicyDocuments(input, 'fuzz.yaml');
    const ms = performance.now() - started;
    assert.ok(ms < BOUND_MS, `seed ${seed}: ${Math.round(ms)} ms`);
    if ('errors' in result) {
      assert.ok(
        result.errors.length > 0 && result.errors.every((e) => typeof e.message === 'string' && e.message.length > 0),
        `seed ${seed}: errors have messages`,
      );
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

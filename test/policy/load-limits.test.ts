import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicyDocuments, POLICY_LIMITS } from '../../src/policy/load.js';

const GOOD = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: web}
spec: {timeouts: {tcp: {establishedSeconds: 600}}}
`;

/** levels of `width` aliases each to the level below: width^levels leaves from a few hundred bytes. */
function aliasBomb(levels: number, width: number, under: string): string {
  const lines = ['a0: &a0 [x]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(', ')}]`);
  const bomb = lines.map((l) => `  ${l}`).join('\n');
  return under === 'status'
    ? `${GOOD}status:\n${bomb}\n`
    : GOOD.replace('metadata: {name: web}', `metadata:\n  name: web\n  extra:\n${bomb.replace(/^/gm, '  ')}`);
}

function errorOf(text: string): string {
  const r = parsePolicyDocuments(text, 'p.yaml');
  assert.ok('errors' in r, 'refused');
  return r.errors.map((e) => e.message).join('\n');
}

describe('parsePolicyDocuments: limits before anything else looks at the content', () => {
  const cases: Array<{ name: string; text: () => string; error: RegExp }> = [
    { name: 'alias bomb under status (10^8 leaves)', text: () => aliasBomb(8, 10, 'status'), error: /expands \(aliases included\) to more than/ },
    { name: 'alias bomb under extra metadata', text: () => aliasBomb(8, 10, 'metadata'), error: /expands \(aliases included\) to more than/ },
    { name: 'more aliases than allowed in one document', text: () => aliasBomb(1, POLICY_LIMITS.maxAliasesPerDocument + 1, 'status'), error: /alias/i },
    { name: 'too many documents', text: () => `${GOOD}---\n`.repeat(POLICY_LIMITS.maxDocuments + 1), error: /documents, more than the 1000 allowed/ },
    { name: 'too large', text: () => `${GOOD}# ${'x'.repeat(POLICY_LIMITS.maxBytes)}\n`, error: /larger than/ },
    { name: 'empty file', text: () => '', error: /no ConntrackPolicy document/ },
    { name: 'comments and empty documents only', text: () => '# a\n---\n---\n# b\n', error: /no ConntrackPolicy document/ },
    { name: 'a non-empty list', text: () => `[${JSON.stringify({ apiVersion: 'conntrack.io/v1alpha1' })}]`, error: /expected a mapping/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const started = performance.now();
      assert.match(errorOf(c.text()), c.error);
      assert.ok(performance.now() - started < 2000, 'refused quickly');
    });
  }

  it('an explicit empty list means "no policies"', () => {
    assert.deepEqual(parsePolicyDocuments('# nothing on this host\n[]\n', 'p.yaml'), { policies: [] });
  });

  it('a small alias tree is fine (the limit is on expansion, not on aliases)', () => {
    const r = parsePolicyDocuments(aliasBomb(2, 3, 'status'), 'p.yaml');
    assert.ok('policies' in r);
  });
});

describe('parsePolicyDocuments: only the keys we own travel further', () => {
  it('status and unknown metadata are dropped; name, labels, annotations kept', () => {
    const text =
      GOOD.replace('metadata: {name: web}', 'metadata: {name: web, labels: {a: b}, annotations: {c: d}, managedFields: [{x: 1}], finalizers: [f]}') +
      'status: {selectedNodes: 3, conditions: [{type: Ready}]}\n';
    const r = parsePolicyDocuments(text, 'p.yaml');
    assert.ok('policies' in r);
    const [doc] = r.policies;
    assert.deepEqual(Object.keys(doc!).sort(), ['apiVersion', 'kind', 'metadata', 'spec']);
    assert.deepEqual(doc!.metadata, { name: 'web', labels: { a: 'b' }, annotations: { c: 'd' } });
  });
});

describe('parsePolicyDocuments: NOTRACK rules must expand to what the iptables backends can apply', () => {
  const rule = (i: number, sources: number, destinations: number) =>
    `    - {name: r${i}, protocol: tcp, ports: [${1000 + i}], sources: [${Array.from({ length: sources }, (_, j) => `10.${i}.${j}.0/24`).join(', ')}], destinations: [${Array.from({ length: destinations }, (_, j) => `192.168.${j}.${i}/32`).join(', ')}]}`;
  const policy = (rules: string[]) => `${GOOD}`.replace('spec: {timeouts: {tcp: {establishedSeconds: 600}}}', `spec:\n  notrack:\n${rules.join('\n')}`);

  it('32 rules x 32 sources x 32 destinations (32,768 lines per hook) is refused, naming the count', () => {
    assert.match(
      errorOf(policy(Array.from({ length: 32 }, (_, i) => rule(i, 32, 32)))),
      /expands to 32768 iptables rules per hook .* more than the 4096 allowed/,
    );
  });
  it('4 rules x 32 x 32 (4,096 lines per hook) is accepted', () => {
    assert.ok('policies' in parsePolicyDocuments(policy(Array.from({ length: 4 }, (_, i) => rule(i, 32, 32))), 'p.yaml'));
  });
});

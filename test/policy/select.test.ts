import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LabelSelector } from '../../src/api/v1alpha1/policy.js';
import { labelKeyProblem, labelValueProblem, selectorMatches } from '../../src/policy/select.js';

const node = { 'kubernetes.io/hostname': 'n1', role: 'web', zone: 'a', empty: '' };

describe('selectorMatches: Kubernetes label selector semantics', () => {
  const cases: Array<[string, LabelSelector | undefined, boolean]> = [
    ['absent selector selects every node', undefined, true],
    ['empty selector selects every node', {}, true],
    ['empty matchLabels and matchExpressions select every node', { matchLabels: {}, matchExpressions: [] }, true],
    ['matchLabels equal', { matchLabels: { role: 'web' } }, true],
    ['matchLabels different value', { matchLabels: { role: 'db' } }, false],
    ['matchLabels missing key', { matchLabels: { gpu: 'yes' } }, false],
    ['matchLabels empty value matches an empty label', { matchLabels: { empty: '' } }, true],
    ['matchLabels empty value does not match a missing label', { matchLabels: { absent: '' } }, false],
    ['matchLabels all must hold', { matchLabels: { role: 'web', zone: 'b' } }, false],
    ['In with the value', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] }, true],
    ['In without the value', { matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, false],
    ['In on a missing key', { matchExpressions: [{ key: 'gpu', operator: 'In', values: ['a'] }] }, false],
    ['NotIn with the value', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, false],
    ['NotIn without the value', { matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['b'] }] }, true],
    ['NotIn on a missing key matches', { matchExpressions: [{ key: 'gpu', operator: 'NotIn', values: ['a'] }] }, true],
    ['Exists present', { matchExpressions: [{ key: 'role', operator: 'Exists' }] }, true],
    ['Exists present with an empty value', { matchExpressions: [{ key: 'empty', operator: 'Exists' }] }, true],
    ['Exists missing', { matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }, false],
    ['DoesNotExist missing', { matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, true],
    ['DoesNotExist present', { matchExpressions: [{ key: 'role', operator: 'DoesNotExist' }] }, false],
    ['matchLabels and matchExpressions are ANDed', { matchLabels: { role: 'web' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['b'] }] }, false],
    [
      'every expression must hold',
      {
        matchExpressions: [
          { key: 'role', operator: 'Exists' },
          { key: 'zone', operator: 'NotIn', values: ['a'] },
        ],
      },
      false,
    ],
    ['inherited object keys are not labels', { matchExpressions: [{ key: 'toString', operator: 'Exists' }] }, false],
  ];
  for (const [name, selector, want] of cases) it(name, () => assert.equal(selectorMatches(selector, node), want));
});

describe('label syntax', () => {
  const keys: Array<[string, boolean]> = [
    ['role', true],
    ['node-role.kubernetes.io/web', true],
    ['example.com/a_b.c-d', true],
    ['A1', true],
    ['-bad', false],
    ['bad-', false],
    ['has space', false],
    ['UPPER.example.com/x', false],
    ['example.com/', false],
    [`${'a'.repeat(64)}`, false],
    [`${'a'.repeat(63)}`, true],
  ];
  for (const [key, ok] of keys) it(`key ${key.slice(0, 20)}: ${ok}`, () => assert.equal(labelKeyProblem(key) === undefined, ok));
  const values: Array<[string, boolean]> = [
    ['', true],
    ['web', true],
    ['a.b_c-d', true],
    ['-x', false],
    ['a/b', false],
    ['a'.repeat(64), false],
  ];
  for (const [value, ok] of values) it(`value "${value.slice(0, 20)}": ${ok}`, () => assert.equal(labelValueProblem(value) === undefined, ok));
});

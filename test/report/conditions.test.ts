import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setCondition, setConditions, type Condition } from '../../src/report/conditions.js';
import { NodeCondition, NodeReasons, PolicyCondition, PolicyConditionType, PolicyReasons } from '../../src/api/v1alpha1/status.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

test('a new condition gets the current time', () => {
  const out = setCondition([], { type: 'Applied', status: 'True', reason: 'Applied', message: 'ok', observedGeneration: 1 }, t0);
  assert.deepEqual(out, [{ type: 'Applied', status: 'True', reason: 'Applied', message: 'ok', observedGeneration: 1, lastTransitionTime: t0.toISOString() }]);
});

const cases: Array<{ name: string; next: Partial<Condition>; moves: boolean }> = [
  { name: 'same status, new message: time stays', next: { message: 'still ok' }, moves: false },
  { name: 'same status, new generation: time stays', next: { observedGeneration: 2 }, moves: false },
  { name: 'status flips: time moves', next: { status: 'False', reason: 'Failed' }, moves: true },
];
for (const tc of cases) {
  test(`setCondition: ${tc.name}`, () => {
    const base = setCondition([], { type: 'Applied', status: 'True', reason: 'Applied', message: 'ok', observedGeneration: 1 }, t0);
    const [c] = setCondition(base, { type: 'Applied', status: 'True', reason: 'Applied', message: 'ok', observedGeneration: 1, ...tc.next }, t1);
    assert.equal(c!.lastTransitionTime, (tc.moves ? t1 : t0).toISOString());
    assert.equal(c!.observedGeneration, tc.next.observedGeneration ?? 1);
  });
}

test('setConditions keeps other types and order', () => {
  const a = setConditions(
    [],
    [
      { type: 'Applied', status: 'True', reason: 'Applied', message: '', observedGeneration: 1 },
      { type: 'Drifted', status: 'False', reason: 'InSync', message: '', observedGeneration: 1 },
    ],
    t0,
  );
  const b = setConditions(a, [{ type: 'Drifted', status: 'True', reason: 'Drift', message: 'x', observedGeneration: 1 }], t1);
  assert.deepEqual(
    b.map((c) => [c.type, c.status]),
    [
      ['Applied', 'True'],
      ['Drifted', 'True'],
    ],
  );
  assert.deepEqual(setConditions(a, [], t1), a, 'no input, no change');
});

test('every reason constant is a reason the API accepts, under its own condition type', () => {
  const kinds = [
    { schema: NodeCondition, reasons: NodeReasons as Record<string, Record<string, string>> },
    { schema: PolicyCondition, reasons: PolicyReasons as Record<string, Record<string, string>> },
  ];
  for (const { schema, reasons } of kinds) {
    for (const [type, byName] of Object.entries(reasons)) {
      for (const [name, reason] of Object.entries(byName)) {
        assert.equal(reason, name, `${type}.${name} names its own value`);
        const c = { type, status: 'True', reason, message: '', lastTransitionTime: t0.toISOString(), observedGeneration: 1 };
        assert.ok(schema.safeParse(c).success, `${type}: ${reason}`);
      }
    }
  }
  assert.deepEqual(Object.keys(PolicyReasons), [...PolicyConditionType]);
});

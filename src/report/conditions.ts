// apimachinery's condition rules: setCondition replaces a condition of the
// same type and moves lastTransitionTime only when the status changes.
// observedGeneration is always set.

import type { NodeConditionDoc, PolicyConditionDoc } from '../api/v1alpha1/status.js';

/** metav1.Condition as the API declares it for either kind, with the condition types T. */
export type Condition<T extends string = string> = Omit<NodeConditionDoc | PolicyConditionDoc, 'type'> & { type: T };

export type ConditionInput<T extends string = string> = Omit<Condition<T>, 'lastTransitionTime'>;

export function setCondition<T extends string>(conditions: readonly Condition<T>[], next: ConditionInput<T>, now: Date): Condition<T>[] {
  const existing = conditions.find((c) => c.type === next.type);
  const lastTransitionTime = existing && existing.status === next.status ? existing.lastTransitionTime : now.toISOString();
  const updated: Condition<T> = { ...next, lastTransitionTime };
  return existing ? conditions.map((c) => (c.type === next.type ? updated : c)) : [...conditions, updated];
}

export function setConditions<T extends string>(conditions: readonly Condition<T>[], next: ConditionInput<T>[], now: Date): Condition<T>[] {
  return next.reduce<Condition<T>[]>((acc, c) => setCondition(acc, c, now), [...conditions]);
}

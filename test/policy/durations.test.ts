import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/policy/durations.js';

describe('parseDuration', () => {
  const valid: Array<[unknown, number]> = [
    [600, 600],
    ['45s', 45],
    ['10m', 600],
    ['1h', 3600],
    ['1h30m', 5400],
    ['1h30m15s', 5415],
    ['2m5s', 125],
    ['120h', 432000],
    ['0h1s', 1],
    [2147483647, 2147483647],
  ];
  for (const [input, seconds] of valid) {
    it(`${JSON.stringify(input)} -> ${seconds}`, () => assert.deepEqual(parseDuration(input), { ok: true, seconds }));
  }

  const invalid: Array<[unknown, string]> = [
    [0, 'at least 1 second'],
    ['0s', 'at least 1 second'],
    [-5, 'at least 1 second'],
    [1.5, 'whole seconds or a duration string'],
    ['', 'whole seconds or a duration string'],
    ['10', 'whole seconds or a duration string'],
    ['10x', 'whole seconds or a duration string'],
    ['30s10m', 'whole seconds or a duration string'],
    ['1d', 'whole seconds or a duration string'],
    [true, 'whole seconds or a duration string'],
    [null, 'whole seconds or a duration string'],
    ['596524h', 'at most 2147483647 seconds'],
    [2147483648, 'at most 2147483647 seconds'],
  ];
  for (const [input, reason] of invalid) {
    it(`${JSON.stringify(input)} is refused: ${reason}`, () => {
      const result = parseDuration(input);
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.reason.includes(reason), JSON.stringify(result));
    });
  }
});

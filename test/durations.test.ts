import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationPattern, parseDuration } from '../src/durations.js';

describe('parseDuration', () => {
  const valid: Array<[string, number]> = [
    ['600', 600],
    ['0600', 600],
    ['45s', 45],
    ['10m', 600],
    ['1h', 3600],
    ['1h30m', 5400],
    ['1h30m15s', 5415],
    ['1h0m0s', 3600],
    ['2m5s', 125],
    ['1m90s', 150],
    ['90m', 5400],
    ['0h1s', 1],
    ['999999', 999_999],
    ['99h9999m999999s', 1_956_339],
  ];
  for (const [input, seconds] of valid) {
    it(`${JSON.stringify(input)} -> ${seconds}`, () => assert.deepEqual(parseDuration(input), { ok: true, seconds }));
  }

  const invalid: Array<[string, string]> = [
    ['0', 'at least 1 second'],
    ['0s', 'at least 1 second'],
    ['0h0m0s', 'at least 1 second'],
    ['-5', 'whole seconds or a duration'],
    ['1.5', 'whole seconds or a duration'],
    ['', 'whole seconds or a duration'],
    ['10x', 'whole seconds or a duration'],
    ['1500ms', 'whole seconds or a duration'],
    ['30s10m', 'whole seconds or a duration'],
    ['1d', 'whole seconds or a duration'],
    [' 30s', 'whole seconds or a duration'],
    ['1000000', 'too long'],
    ['100h', 'too long'],
    ['10000m', 'too long'],
    ['1000000s', 'too long'],
  ];
  for (const [input, reason] of invalid) {
    it(`${JSON.stringify(input)} is refused: ${reason}`, () => {
      const result = parseDuration(input);
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.reason.includes(reason), JSON.stringify(result));
    });
  }

  it('with minimum 0, zero is a duration', () => {
    for (const zero of ['0', '0s', '0h0m', '000']) assert.deepEqual(parseDuration(zero, 0), { ok: true, seconds: 0 }, zero);
  });

  // The parser diagnoses by shape and value; the pattern (what the chart's schema carries) must say the same.
  it('accepts exactly what its pattern matches', () => {
    const forms = [...valid.map(([t]) => t), ...invalid.map(([t]) => t), '0', '0s', '00', '99h', '0099h', '9999m', '59m59s', '1h1h', 'h', 's', '1hm', '1m1h'];
    for (const min of [0, 1] as const) {
      const pattern = new RegExp(durationPattern(min));
      for (const form of forms) assert.equal(parseDuration(form, min).ok, pattern.test(form), `min ${min}: ${JSON.stringify(form)}`);
    }
  });
});

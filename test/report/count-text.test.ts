import assert from 'node:assert/strict';
import { it } from 'node:test';
import { countText } from '../../src/report/count-text.js';

const cases: Array<[number | null | undefined, string]> = [
  [0, '0'],
  [999, '999'],
  [1000, '1,000'],
  [262144, '262,144'],
  [1234567, '1,234,567'],
  [-4200, '-4,200'],
  [-999, '-999'],
  [-1000, '-1,000'],
  [1e12, '1,000,000,000,000'],
  [1499.5, '1,500'], // whole numbers: a rate or a time is rounded
  [2.4, '2'],
  [null, '?'],
  [undefined, '?'],
];
for (const [v, want] of cases) it(`countText(${v}) is ${want}`, () => assert.equal(countText(v), want));

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { compareText } from '../src/text-order.js';

// [a, b, sign of compareText(a, b)]: code-unit order, the same in every locale.
const cases: Array<[string, string, -1 | 0 | 1]> = [
  ['a', 'b', -1],
  ['b', 'a', 1],
  ['same', 'same', 0],
  ['node', 'node-1', -1], // a prefix first
  ['node-2', 'node-10', 1], // no numeric collation: '2' > '1'
  ['a-b', 'a.b', -1], // '-' before '.'
  ['B', 'a', -1], // upper case first; localeCompare would put 'a' first
  ['tcp_timeout', 'tcpTimeout', 1], // '_' after 'T'
];
for (const [a, b, sign] of cases) it(`compareText(${a}, ${b}) is ${sign}`, () => assert.equal(Math.sign(compareText(a, b)), sign));

it('sorts as Array.prototype.sort does by default', () => {
  const names = ['node-b', 'Node-a', 'node-a', 'node-10', 'node-9', 'a.b', 'a-b'];
  assert.deepEqual([...names].sort(compareText), ['Node-a', 'a-b', 'a.b', 'node-10', 'node-9', 'node-a', 'node-b']);
});

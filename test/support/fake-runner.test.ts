// The fake command runner fails where the real spawn and tools would, not more kindly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeRunner, ok } from './fake-runner.js';

test('fake runner: a tool with no answer is not installed; an answered tool called otherwise is a mistake, not a missing binary', async () => {
  const runner = new FakeRunner({ 'conntrack -S': ok('cpu=0 drop=1\n') });
  assert.equal((await runner.run('conntrack', ['-S'])).stdout, 'cpu=0 drop=1\n');
  await assert.rejects(runner.run('nft', ['list', 'ruleset']), { code: 'ENOENT' });
  await assert.rejects(runner.run('conntrack', ['-L']), /conntrack is answered, but not for: conntrack -L/);
  await assert.rejects(runner.run('conntrack', ['-S x']), /an argument with a space/);
  assert.deepEqual(runner.commandLines(), ['conntrack -S', 'nft list ruleset', 'conntrack -L', 'conntrack -S x']);
});

test('fake runner: a stream exits once its output is read, as a child does after its stdout is drained', async () => {
  const runner = new FakeRunner({ 'conntrack -L': ok('x'.repeat(10_000)) });
  const { chunks, done } = runner.streamChunks('conntrack', ['-L']);
  let settled = false;
  void done.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(settled, false, 'not exited while its output waits');
  let bytes = 0;
  for await (const c of chunks) bytes += c.length;
  assert.deepEqual([bytes, await done], [10_000, { code: 0, stderr: '' }]);
  await assert.rejects(runner.streamChunks('nft', ['list', 'ruleset']).done, { code: 'ENOENT' });
});

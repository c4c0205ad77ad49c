import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreatedObjectsFile } from '../../src/reconcile/created-objects-file.js';

async function withFile(fn: (file: CreatedObjectsFile) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-i15-created-file-'));
  try {
    await fn(new CreatedObjectsFile(join(dir, 'state')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('created objects: saved, loaded, deduplicated; an empty record is no file', () =>
  withFile(async (file) => {
    assert.deepEqual(await file.load(), []);
    await file.save(['ip6 raw', 'ip filter INPUT', 'ip6 raw']);
    assert.deepEqual(await file.load(), ['ip filter INPUT', 'ip6 raw']);
    await file.save([]);
    assert.deepEqual(await file.load(), []);
  }));

test('created objects: a tampered record names nothing to delete, it is refused', async (t) => {
  for (const [name, content] of [
    ['another table', '{"objects": ["inet user"]}'],
    ['a command in a name', '{"objects": ["ip raw; flush ruleset"]}'],
    ['not JSON', '{"objects": ['],
    ['an unknown key', '{"objects": [], "more": 1}'],
  ] as const) {
    await t.test(name, () =>
      withFile(async (file) => {
        await file.save(['ip raw']);
        await writeFile(file.path, content);
        await assert.rejects(file.load(), new RegExp(`${file.path}: invalid`));
      }),
    );
  }
});

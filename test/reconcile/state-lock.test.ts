import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateLock } from '../../src/reconcile/state-lock.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('two writers run one after the other, and the lock is gone afterwards', () =>
  withDir(async (dir) => {
    const order: string[] = [];
    const slow = (name: string) => async () => {
      order.push(`${name} in`);
      await new Promise((r) => setTimeout(r, 150));
      order.push(`${name} out`);
    };
    await Promise.all([new StateLock(dir).run(slow('a')), new Promise((r) => setTimeout(r, 20)).then(() => new StateLock(dir).run(slow('b')))]);
    assert.deepEqual(order, ['a in', 'a out', 'b in', 'b out']);
    assert.equal(existsSync(join(dir, 'lock')), false);
  }));

test('a lock left by a process that is gone is taken over', () =>
  withDir(async (dir) => {
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    await writeFile(join(dir, 'lock'), gone);
    assert.equal(await new StateLock(dir, 1000).run(async () => 'ran'), 'ran');
  }));

test('a live holder makes the other writer give up with a message naming it', () =>
  withDir(async (dir) => {
    let release!: () => void;
    const held = new StateLock(dir).run(() => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(new StateLock(dir, 300).run(async () => undefined), new RegExp(`another conntrack-operator \\(pid ${process.pid}\\) is changing this host`));
    release();
    await held;
  }));

test('a failing writer releases the lock', () =>
  withDir(async (dir) => {
    await assert.rejects(new StateLock(dir).run(async () => {
      throw new Error('write failed');
    }), /write failed/);
    assert.equal(await new StateLock(dir, 200).run(async () => 'next'), 'next');
  }));

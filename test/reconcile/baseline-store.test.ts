import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AtomicFs } from '../../src/atomic-file.js';
import { FileBaselineStore, MemoryBaselineStore } from '../../src/reconcile/baseline-store.js';
import type { Action } from '../../src/reconcile/planner.js';

const raiseMax: Action = { kind: 'sysctl', key: 'nf_conntrack_max', from: 262144, to: 1048576 };
const raiseAgain: Action = { kind: 'sysctl', key: 'nf_conntrack_max', from: 1048576, to: 2097152 };
const buckets: Action = { kind: 'buckets', key: 'buckets', via: 'hashsize', from: 262144, to: 524288 };
const target = { rules: [{ name: 'loopback', interface: 'lo', direction: 'both' as const }], acceptUntracked: false };
const sync: Action = { kind: 'notrack-sync', key: 'notrack', to: target, from: null, missing: ['x'], extra: [] };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-baseline-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const stores = [
  {
    name: 'file',
    run: (fn: (store: MemoryBaselineStore | FileBaselineStore) => Promise<void>) => withDir((dir) => fn(new FileBaselineStore(join(dir, 'state')))),
  },
  { name: 'memory', run: (fn: (store: MemoryBaselineStore | FileBaselineStore) => Promise<void>) => fn(new MemoryBaselineStore()) },
];

for (const { name, run } of stores) {
  test(`baseline (${name}): the first change is kept, a later one never overwrites it`, () =>
    run(async (store) => {
      assert.deepEqual(await store.load(), { values: {}, notrackOwned: false });
      await store.recordBefore([buckets, raiseMax, sync]);
      await store.recordBefore([raiseAgain]);
      assert.deepEqual(await store.load(), { values: { buckets: 262144, nf_conntrack_max: 262144 }, notrackOwned: true });
      await store.recordNotrackApplied(target);
      assert.deepEqual((await store.load()).notrackApplied, target);
      await store.clear(['nf_conntrack_max', 'notrack']);
      assert.deepEqual(await store.load(), { values: { buckets: 262144 }, notrackOwned: false });
      await store.clear();
      assert.deepEqual(await store.load(), { values: {}, notrackOwned: false });
    }));
}

test('baseline (file): survives a new store instance on the same dir', () =>
  withDir(async (dir) => {
    await new FileBaselineStore(dir).recordBefore([raiseMax]);
    const again = new FileBaselineStore(dir);
    await again.recordBefore([raiseAgain]);
    assert.deepEqual(await again.load(), { values: { nf_conntrack_max: 262144 }, notrackOwned: false });
    assert.deepEqual(await readdir(dir), ['baseline.json']);
  }));

test('baseline (file): a write failing half-way leaves the old file whole and no temp file', () =>
  withDir(async (dir) => {
    await new FileBaselineStore(dir).recordBefore([raiseMax]);
    const good = await readFile(join(dir, 'baseline.json'), 'utf8');
    // A real file handle that writes part of the data, then fails as a full disk does.
    const failingFs: AtomicFs = {
      ...fsp,
      open: (async (path: string, flags: string, mode?: number) => {
        const handle = await fsp.open(path, flags, mode);
        if (flags !== 'wx') return handle;
        return Object.assign(Object.create(handle), {
          writeFile: async (data: string) => {
            await handle.write(data.slice(0, 10));
            throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
          },
          close: () => handle.close(),
        });
      }) as AtomicFs['open'],
    };
    await assert.rejects(new FileBaselineStore(dir, failingFs).recordBefore([buckets]), /ENOSPC/);
    assert.equal(await readFile(join(dir, 'baseline.json'), 'utf8'), good);
    assert.deepEqual(await readdir(dir), ['baseline.json']);
  }));

test('baseline (file): a damaged file is an error naming it, never silently replaced', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'baseline.json'), '{"values": {"nf_conntrack_max": 26');
    const store = new FileBaselineStore(dir);
    await assert.rejects(store.load(), new RegExp(`${join(dir, 'baseline.json')}: not valid JSON`));
    await assert.rejects(store.recordBefore([raiseMax]));
  }));

test('baseline (file): validated like a policy; a tampered or out-of-range file is refused naming the field', async (t) => {
  const rule = { name: 'loopback', interface: 'lo', direction: 'both' };
  const applied = (r: object) => ({ values: {}, notrackOwned: true, notrackApplied: { rules: [r], acceptUntracked: false } });
  const cases: Array<{ name: string; data: unknown; error: RegExp }> = [
    { name: 'a value that is not a number', data: { values: { nf_conntrack_max: 'big' }, notrackOwned: false }, error: /values\.nf_conntrack_max/ },
    { name: 'a negative value', data: { values: { nf_conntrack_max: -1 }, notrackOwned: false }, error: /values\.nf_conntrack_max/ },
    { name: 'above 32 bits', data: { values: { nf_conntrack_max: 2 ** 53 + 2 }, notrackOwned: false }, error: /values\.nf_conntrack_max/ },
    { name: 'a fraction', data: { values: { nf_conntrack_max: 1.5 }, notrackOwned: false }, error: /values\.nf_conntrack_max/ },
    { name: 'a key that is a path', data: { values: { '../../../../etc/hostname': 1 }, notrackOwned: false }, error: /values/ },
    {
      name: 'a rule name that is iptables-restore input',
      data: applied({ ...rule, name: 'x\nCOMMIT\n*filter\n-A INPUT -j ACCEPT' }),
      error: /notrackApplied\.rules\[0\]\.name/,
    },
    { name: 'a rule interface with a space', data: applied({ ...rule, interface: 'lo -j ACCEPT' }), error: /notrackApplied\.rules\[0\]\.interface/ },
    {
      name: 'a rule list that is not a list',
      data: { values: {}, notrackOwned: true, notrackApplied: { rules: { a: 1 }, acceptUntracked: false } },
      error: /notrackApplied\.rules/,
    },
    { name: 'a bad CIDR', data: applied({ ...rule, sources: ['10.0.0.0/33'] }), error: /sources\[0\]/ },
    { name: 'an unknown key', data: { values: {}, notrackOwned: false, extra: 1 }, error: /extra/ },
    { name: 'notrackOwned missing', data: { values: {} }, error: /notrackOwned/ },
  ];
  for (const c of cases) {
    await t.test(c.name, () =>
      withDir(async (dir) => {
        await writeFile(join(dir, 'baseline.json'), JSON.stringify(c.data));
        const store = new FileBaselineStore(dir);
        await assert.rejects(store.load(), (err: Error) => err.message.startsWith(`${join(dir, 'baseline.json')}: invalid (`) && c.error.test(err.message));
        await assert.rejects(store.recordBefore([raiseMax]), /invalid/);
      }),
    );
  }
});

test('baseline (file): a FIFO at the path is refused, never waited on', () =>
  withDir(async (dir) => {
    execFileSync('mkfifo', [join(dir, 'baseline.json')]);
    await assert.rejects(new FileBaselineStore(dir).load(), /is a FIFO, not a regular file/);
  }));

// Fuzz: mutated state files. baseline.json either loads as a baseline whose
// every key, value and rule is one we could have written, or is refused with
// its path named; a mutated lock file never wedges a writer (it is taken
// over or waited for until the timeout, within a bound).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCidr } from '../../src/policy/cidr.js';
import { DNS_LABEL, INTERFACE_NAME } from '../../src/api/v1alpha1/policy.js';
import { FileBaselineStore } from '../../src/reconcile/baseline-store.js';
import { procfsView, StateLock } from '../../src/reconcile/state-lock.js';
import { cases } from './seeded.js';

const BASELINE = JSON.stringify(
  {
    version: 1,
    values: { nf_conntrack_max: 262144, nf_conntrack_tcp_timeout_established: 432000, buckets: 65536 },
    notrackOwned: true,
    notrackApplied: {
      rules: [
        { name: 'loopback', interface: 'lo', direction: 'both' },
        {
          name: 'web',
          protocol: 'tcp',
          ports: [
            { from: 80, to: 80 },
            { from: 8000, to: 8100 },
          ],
          sources: ['10.0.0.0/8'],
          destinations: ['fd00::/8'],
          direction: 'inbound',
        },
      ],
      acceptUntracked: true,
    },
  },
  null,
  2,
);

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-i15-fuzz-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('baseline.json: 300 mutated files load as a valid baseline or are refused naming the file', () =>
  withDir(async (dir) => {
    const store = new FileBaselineStore(dir);
    let loaded = 0;
    for (const { seed, input } of cases([BASELINE], 300, 3000)) {
      await writeFile(store.path, input);
      let baseline;
      try {
        baseline = await store.load();
      } catch (err) {
        assert.ok(err instanceof Error && err.message.startsWith(`${store.path}: `), `seed ${seed}: ${String(err)}`);
        continue;
      }
      loaded++;
      for (const [key, value] of Object.entries(baseline.values)) {
        assert.match(key, /^(nf_conntrack_[a-z0-9_]+|buckets)$/, `seed ${seed}`);
        assert.ok(Number.isInteger(value) && value >= 0 && value <= 4294967295, `seed ${seed}: ${key}=${value}`);
      }
      for (const rule of baseline.notrackApplied?.rules ?? []) {
        assert.match(rule.name, DNS_LABEL, `seed ${seed}`);
        if (rule.interface !== undefined) assert.match(rule.interface, INTERFACE_NAME, `seed ${seed}`);
        for (const c of [...(rule.sources ?? []), ...(rule.destinations ?? [])]) assert.ok(parseCidr(c).ok, `seed ${seed}: ${c}`);
      }
    }
    assert.ok(loaded > 0, 'some mutations still load, or the checks above checked nothing');
  }));

test('lock file: 20 mutated locks are taken over or waited for, never past the timeout', () =>
  withDir(async (dir) => {
    const me = await procfsView().self();
    const lockText = JSON.stringify({ ...me, pid: 1, pidNs: 'pid:[1]', token: 'theirs' });
    for (const { seed, input } of cases([lockText], 20, 5000)) {
      await writeFile(join(dir, 'lock'), input);
      const started = Date.now();
      await new StateLock(dir, { staleMs: 30_000, timeoutMs: 100 })
        .run(async () => 'ran')
        .catch((err: Error) => {
          assert.match(err.message, /is changing this host/, `seed ${seed}`);
        });
      assert.ok(Date.now() - started < 2_000, `seed ${seed}: ${Date.now() - started} ms`);
      await rm(join(dir, 'lock'), { force: true });
    }
  }));

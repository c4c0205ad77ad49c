// The one cache of the last good policies, used by the file source and the
// cluster source: what it keeps comes back; what it cannot trust (too large,
// not a regular file, not JSON, no policy list, a policy the schema refuses)
// is not used, and the reason is logged.
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PolicyCache } from '../../src/agent/policy-cache.js';
import { silentLog } from '../support/silent-log.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const policy = (name: string, notrackName = 'loopback') => ({
  apiVersion: 'conntrack.io/v1alpha1',
  kind: 'ConntrackPolicy',
  metadata: { name },
  spec: { notrack: [{ name: notrackName, interface: 'lo' }] },
});

async function cacheIn(): Promise<{ cache: PolicyCache; path: string; warnings: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'policy-cache-'));
  dirs.push(dir);
  const path = join(dir, 'state', 'kept.json');
  const warnings: string[] = [];
  return { cache: new PolicyCache(path, silentLog({ warn: (o, m) => void warnings.push(`${m}: ${(o as { err?: string }).err}`) })), path, warnings };
}

test('policy cache: what is saved comes back, policies validated, the other fields as written', async () => {
  const { cache } = await cacheIn();
  const { cache: other, path } = await cacheIn();
  await cache.save([], { note: 'nothing yet' });
  assert.deepEqual(await cache.load(), { policies: [], record: { note: 'nothing yet' } });
  // As the cluster source keeps its node's labels beside the policies.
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, JSON.stringify({ policies: [policy('web')], nodeLabels: { pool: 'web' } }));
  const kept = await other.load();
  assert.deepEqual(
    kept?.policies.map((p) => [p.metadata.name, p.spec.notrack?.map((r) => r.name)]),
    [['web', ['loopback']]],
  );
  assert.deepEqual(kept?.record, { nodeLabels: { pool: 'web' } });
});

const unusable: Array<{ name: string; write: (path: string) => Promise<void>; warning: RegExp | null }> = [
  { name: 'nothing kept', write: async () => undefined, warning: null },
  { name: 'not JSON', write: (p) => writeFile(p, '{"policies": ['), warning: /JSON/ },
  { name: 'no policy list', write: (p) => writeFile(p, JSON.stringify({ policies: { web: 1 } })), warning: /no "policies" list/ },
  { name: 'a list, not a record', write: (p) => writeFile(p, JSON.stringify([policy('web')])), warning: /no "policies" list/ },
  {
    name: 'a policy the schema refuses (a rule name that would break the ruleset)',
    write: (p) => writeFile(p, JSON.stringify({ policies: [policy('web'), policy('bad', 'a\nCOMMIT')] })),
    warning: /notrack/,
  },
  { name: 'larger than a policy file may be', write: (p) => writeFile(p, JSON.stringify({ policies: [], pad: 'x'.repeat(1 << 20) })), warning: /allowed/ },
  { name: 'a directory', write: (p) => mkdir(p), warning: /is a directory/ },
];

for (const c of unusable) {
  test(`policy cache: ${c.name}: not used${c.warning ? ', and logged' : ', silently'}`, async () => {
    const { cache, path, warnings } = await cacheIn();
    await mkdir(join(path, '..'), { recursive: true });
    await c.write(path);
    assert.equal(await cache.load(), null);
    if (c.warning === null) assert.deepEqual(warnings, []);
    else {
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!, /^the kept policies cannot be used: /);
      assert.match(warnings[0]!, c.warning);
    }
  });
}

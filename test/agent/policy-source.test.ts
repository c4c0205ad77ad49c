import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { PolicyFileSource, type PolicySnapshot } from '../../src/agent/policy-source.js';
import { silentLog } from '../support/silent-log.js';

const GOOD = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: web}
spec:
  timeouts: {tcp: {establishedSeconds: 600}}
  notrack:
    - {name: loopback, interface: lo}
    - {name: web-in, protocol: tcp, ports: [80], direction: inbound}
`;
/** What a reader sees halfway through `cat new > policy.yaml`: valid YAML, one rule fewer. */
const PARTIAL = GOOD.split('\n').slice(0, 7).join('\n') + '\n';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function fixture(): Promise<{ dir: string; path: string; stateDir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'i15-policy-source-'));
  dirs.push(dir);
  return { dir, path: join(dir, 'policy.yaml'), stateDir: join(dir, 'state') };
}

function source(path: string, stateDir: string, sleep?: (ms: number) => Promise<void>): { src: PolicyFileSource; seen: PolicySnapshot[]; warnings: string[] } {
  const warnings: string[] = [];
  const log = silentLog({ warn: (_o, m) => void warnings.push(m) });
  const src = new PolicyFileSource(path, { pollMs: 60_000, settleMs: 20, stateDir, log, ...(sleep ? { sleep } : {}) });
  const seen: PolicySnapshot[] = [];
  src.onChange(() => seen.push(src.current()));
  return { src, seen, warnings };
}

/** A source started and stopped on `path`: what it holds after start-up alone. */
async function startUp(path: string, stateDir: string): Promise<ReturnType<typeof source>> {
  const started = source(path, stateDir);
  await started.src.start();
  await started.src.stop();
  return started;
}

/** After a broken file at start-up with nothing usable kept: no policies, and not ready. */
function assertNotReady(src: PolicyFileSource): void {
  assert.deepEqual(src.current().policies, []);
  assert.equal(src.ready(), false);
}

/** A settle wait the test ends: the source's looks happen exactly between the test's steps. */
function heldSleep() {
  const held: Array<() => void> = [];
  let arrived: (() => void) | null = null;
  return {
    sleep: () =>
      new Promise<void>((resolve) => {
        held.push(resolve);
        arrived?.();
        arrived = null;
      }),
    /** Resolves once the source is waiting. */
    waiting: () => new Promise<void>((resolve) => (held.length ? resolve() : (arrived = resolve))),
    release: () => held.shift()?.(),
  };
}

const ruleNames = (s: PolicySnapshot) => s.policies.flatMap((p) => (p.spec.notrack ?? []).map((r) => r.name));

describe('PolicyFileSource: an unusable file keeps the last good policies', () => {
  const broken: Array<{ name: string; make: (path: string) => Promise<void>; error: RegExp }> = [
    { name: 'empty file', make: (p) => writeFile(p, ''), error: /no ConntrackPolicy document/ },
    { name: 'comments only', make: (p) => writeFile(p, '# nothing here\n---\n# still nothing\n'), error: /no ConntrackPolicy document/ },
    { name: 'YAML syntax error', make: (p) => writeFile(p, `${GOOD}  - {name: [\n`), error: /YAML syntax error/ },
    { name: 'schema error (typo)', make: (p) => writeFile(p, GOOD.replace('interface', 'interfce')), error: /interfce/ },
    { name: 'too large', make: (p) => writeFile(p, `${GOOD}#${'x'.repeat(1 << 20)}\n`), error: /more than the \d+ allowed/ },
    {
      name: 'a FIFO',
      make: async (p) => {
        await rm(p);
        execFileSync('mkfifo', [p]);
      },
      error: /is a FIFO, not a regular file/,
    },
    { name: 'a directory', make: async (p) => (await rm(p), await mkdir(p)), error: /is a directory/ },
  ];
  for (const c of broken) {
    it(c.name, async () => {
      const { path, stateDir } = await fixture();
      await writeFile(path, GOOD);
      const { src, warnings } = source(path, stateDir);
      await src.start();
      assert.deepEqual(ruleNames(src.current()), ['loopback', 'web-in']);
      await c.make(path);
      await src.refresh();
      await src.stop();
      assert.deepEqual(ruleNames(src.current()), ['loopback', 'web-in'], 'the last good policies stay');
      assert.match(src.current().error ?? '', c.error);
      assert.equal(src.ready(), true);
      assert.ok(
        warnings.some((w) => /last good policies stay/.test(w)),
        'logged, not only in the status',
      );
    });
  }
});

describe('PolicyFileSource: only a deliberate removal removes every policy', () => {
  const deliberate: Array<{ name: string; make: (path: string) => Promise<void> }> = [
    { name: 'file deleted', make: (p) => rm(p) },
    { name: 'explicit empty list', make: (p) => writeFile(p, '# no policies on this host\n[]\n') },
  ];
  for (const c of deliberate) {
    it(c.name, async () => {
      const { path, stateDir } = await fixture();
      await writeFile(path, GOOD);
      const { src } = source(path, stateDir);
      await src.start();
      await c.make(path);
      await src.refresh();
      await src.stop();
      assert.deepEqual(src.current(), { policies: [] });
      assert.equal(src.ready(), true);
    });
  }
});

describe('PolicyFileSource: a version still being written is never used', () => {
  it('a partial version replaced within the settle time is not published', { timeout: 10_000 }, async () => {
    const { path, stateDir } = await fixture();
    await writeFile(path, GOOD.replace('600', '700'));
    const gate = heldSleep();
    const { src, seen } = source(path, stateDir, gate.sleep);
    const starting = src.start();
    await Promise.race([gate.waiting(), starting]); // the first look, to be confirmed
    gate.release();
    await starting;
    await writeFile(path, PARTIAL);
    const looking = src.refresh();
    // Each step: the source waits to look again, or (were it to use a version unconfirmed) it is done.
    await Promise.race([gate.waiting(), looking]); // it saw the partial version
    await writeFile(path, GOOD); // the rewrite completes within the settle time
    gate.release();
    await Promise.race([gate.waiting(), looking]); // it saw another version: it waits to confirm that one
    gate.release();
    await looking;
    await src.stop();
    assert.ok(seen.length >= 2, 'the final version was published');
    for (const s of seen) assert.notDeepEqual(ruleNames(s), ['loopback'], `the partial version was published: ${JSON.stringify(seen.map(ruleNames))}`);
    assert.deepEqual(ruleNames(src.current()), ['loopback', 'web-in']);
    assert.equal(src.current().policies[0]?.spec.timeouts?.tcp?.establishedSeconds, 600);
  });
});

describe('PolicyFileSource: start-up', () => {
  it('the last good policies kept in the state dir win over a broken file', async () => {
    const { path, stateDir } = await fixture();
    await writeFile(path, GOOD);
    await startUp(path, stateDir);
    await writeFile(path, GOOD.replace('interface', 'interfce'));
    const { src } = await startUp(path, stateDir);
    assert.deepEqual(ruleNames(src.current()), ['loopback', 'web-in']);
    assert.match(src.current().error ?? '', /interfce/);
    assert.equal(src.ready(), true);
  });

  it('a broken file and nothing kept: not ready, so the agent restores nothing', async () => {
    const { path, stateDir } = await fixture();
    await writeFile(path, '');
    assertNotReady((await startUp(path, stateDir)).src);
  });

  it('policies kept for another path are not used', async () => {
    const { dir, path, stateDir } = await fixture();
    const other = join(dir, 'other.yaml');
    await writeFile(other, GOOD);
    await startUp(other, stateDir);
    await writeFile(path, '');
    assertNotReady((await startUp(path, stateDir)).src);
  });

  it('a tampered kept file is validated like a policy file and not used', async () => {
    const { path, stateDir } = await fixture();
    await mkdir(stateDir, { recursive: true });
    const bad = {
      apiVersion: 'conntrack.io/v1alpha1',
      kind: 'ConntrackPolicy',
      metadata: { name: 'x' },
      spec: { notrack: [{ name: 'a\nCOMMIT', interface: 'lo' }] },
    };
    await writeFile(join(stateDir, 'policy-file-cache.json'), JSON.stringify({ path, policies: [bad] }));
    await writeFile(path, '');
    const { src, warnings } = await startUp(path, stateDir);
    assertNotReady(src);
    assert.ok(warnings.includes('the kept policies cannot be used'));
  });
});

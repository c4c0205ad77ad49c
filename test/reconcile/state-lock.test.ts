import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type LockHolder, procfsView, StateLock, startTimeFromStat } from '../../src/reconcile/state-lock.js';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-lock-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const me = await procfsView().self();
const goneChild = () => Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());

async function writeLock(dir: string, content: string, ageMs = 0): Promise<void> {
  const path = join(dir, 'lock');
  await writeFile(path, content);
  const when = new Date(Date.now() - ageMs);
  await utimes(path, when, when);
}

const holder = (over: Partial<LockHolder>): string => JSON.stringify({ ...me, token: 'theirs', ...over });

test('start time: field 22 of a stat line, whatever the command name holds', () => {
  const fields = (comm: string) => `4242 (${comm}) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615`;
  for (const comm of ['node', 'a b', 'x) S 1 (y', '))']) assert.equal(startTimeFromStat(fields(comm)), '987654', comm);
  assert.equal(startTimeFromStat(readFileSync('/proc/self/stat', 'utf8')), me.startTime);
  assert.match(me.startTime, /^\d+$/);
});

test('two writers run one after the other, and the lock is gone afterwards', () =>
  withDir(async (dir) => {
    const order: string[] = [];
    // b starts once a holds the lock; a leaves once b has found the lock and judged its holder
    // alive (or, were the lock broken, once b has run).
    let aIn!: () => void;
    const aHolds = new Promise<void>((r) => (aIn = r));
    let bJudged!: () => void;
    const bWaits = new Promise<void>((r) => (bJudged = r));
    const real = procfsView();
    const watching = { self: () => real.self(), startTimeOf: (pid: number) => real.startTimeOf(pid).finally(bJudged) };
    let bRan!: () => void;
    const bIn = new Promise<void>((r) => (bRan = r));
    const a = new StateLock(dir).run(async () => {
      order.push('a in');
      aIn();
      await Promise.race([bWaits, bIn]);
      order.push('a out');
    });
    await aHolds;
    const b = new StateLock(dir, { view: watching }).run(async () => {
      order.push('b in');
      bRan();
    });
    await Promise.all([a, b]);
    assert.deepEqual(order, ['a in', 'a out', 'b in']);
    assert.equal(existsSync(join(dir, 'lock')), false);
  }));

// Each row: a lock file found on disk, and whether a writer that would wait a minute for a live
// holder takes it over at once (abandoned) or gives up after its 300 ms timeout (live).
const cases: { name: string; content: () => string; ageMs?: number; abandoned: boolean; message?: RegExp }[] = [
  { name: 'same PID namespace, the process is gone', content: () => holder({ pid: goneChild() }), abandoned: true },
  {
    name: 'same PID namespace, the PID now belongs to another process (start time differs)',
    content: () => holder({ pid: process.pid, startTime: '1' }),
    abandoned: true,
  },
  {
    name: 'same PID namespace, the holder runs',
    content: () => holder({ pid: process.pid }),
    ageMs: 3_600_000,
    abandoned: false,
    message: new RegExp(`\\(pid ${process.pid}\\) is changing this host`),
  },
  // The container-restart case: the dead agent was PID 1 in its namespace, and so is the new one.
  { name: 'another PID namespace, not touched for longer than staleMs', content: () => holder({ pid: 1, pidNs: 'pid:[1]' }), ageMs: 60_000, abandoned: true },
  {
    name: 'another PID namespace, touched recently',
    content: () => holder({ pid: 1, pidNs: 'pid:[1]' }),
    ageMs: 1_000,
    abandoned: false,
    message: /\(pid 1 in pid:\[1\]\) is changing this host/,
  },
  { name: 'another boot', content: () => holder({ pid: process.pid, bootId: 'an-older-boot' }), abandoned: true },
  { name: "an older agent's bare PID, old", content: () => String(process.pid), ageMs: 60_000, abandoned: true },
  {
    name: "an older agent's bare PID, recent",
    content: () => String(process.pid),
    ageMs: 1_000,
    abandoned: false,
    message: /\(unknown\) is changing this host/,
  },
  { name: 'an empty file (a holder killed while writing it), recent', content: () => '', abandoned: false },
];
for (const c of cases) {
  test(`a lock found on disk: ${c.name}: ${c.abandoned ? 'taken over' : 'waited for'}`, () =>
    withDir(async (dir) => {
      const content = c.content();
      await writeLock(dir, content, c.ageMs);
      const lock = new StateLock(dir, { staleMs: 30_000, timeoutMs: c.abandoned ? 60_000 : 300 });
      const started = Date.now();
      if (c.abandoned) {
        assert.equal(await lock.run(async () => JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).token !== 'theirs'), true);
        assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
        assert.equal(existsSync(join(dir, 'lock')), false);
      } else {
        await assert.rejects(
          lock.run(async () => 'ran'),
          c.message ?? /is changing this host/,
        );
        assert.equal(await readFile(join(dir, 'lock'), 'utf8'), content, "the holder's lock is left as it was");
      }
    }));
}

// Not a lock file at all: no holder could ever release these, so they must not lock writers out.
const notAFile: Array<{ name: string; make: (path: string) => Promise<void> }> = [
  { name: 'a dangling symlink', make: (p) => symlink('/nonexistent/i15-lock-target', p) },
  { name: 'a symlink to a file elsewhere (never followed, never deleted through)', make: (p) => symlink(process.execPath, p) },
  { name: 'a directory', make: async (p) => void (await mkdir(join(p, 'sub'), { recursive: true })) },
  { name: 'a FIFO', make: async (p) => void execFileSync('mkfifo', [p]) },
];
for (const c of notAFile) {
  test(`at the lock path, ${c.name}: taken over at once`, () =>
    withDir(async (dir) => {
      await c.make(join(dir, 'lock'));
      const started = Date.now();
      assert.equal(await new StateLock(dir, { staleMs: 30_000, timeoutMs: 60_000 }).run(async () => 'ran'), 'ran');
      assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
      assert.equal(existsSync(join(dir, 'lock')), false);
      assert.ok(existsSync(process.execPath), 'a symlink target is never touched');
    }));
}

const rootSkip = process.getuid?.() === 0 ? false : 'needs root (mounts a tiny tmpfs to fill it)';
test('a full disk: the failed acquire leaves no empty lock file behind', { skip: rootSkip }, () =>
  withDir(async (dir) => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k,nr_inodes=64', 'i15-full', dir]);
    try {
      await writeFile(join(dir, 'filler'), Buffer.alloc(4096)).catch(() => undefined); // fill every block
      await assert.rejects(
        new StateLock(dir, { timeoutMs: 200 }).run(async () => 'ran'),
        /ENOSPC/,
      );
      assert.equal(existsSync(join(dir, 'lock')), false, 'no empty lock file left');
      await rm(join(dir, 'filler'));
      assert.equal(await new StateLock(dir, { timeoutMs: 200 }).run(async () => 'ran'), 'ran', 'the next writer gets the lock once space is back');
    } finally {
      execFileSync('umount', ['-l', dir]); // lazy: a descriptor left open by a failing lock must not leave the mount behind
    }
  }),
);

test('a holder in another PID namespace keeps its lock alive by touching it; the waiter gets it only after release', () =>
  withDir(async (dir) => {
    const elsewhere = { self: async () => ({ ...me, pidNs: 'pid:[other]' }), startTimeOf: async () => undefined };
    const order: string[] = [];
    // staleMs is generous against a loaded machine stalling the event loop between heartbeats.
    let holderIn!: () => void;
    const holds = new Promise<void>((r) => (holderIn = r));
    const held = new StateLock(dir, { staleMs: 800, heartbeatMs: 50, view: elsewhere }).run(async () => {
      order.push('holder in');
      holderIn();
      // How long the holder works, not an order: the waiter below starts once it holds the lock.
      await new Promise((r) => setTimeout(r, 2_500)); // three times staleMs
      order.push('holder out');
    });
    await holds;
    await new StateLock(dir, { staleMs: 800, timeoutMs: 10_000 }).run(async () => void order.push('waiter in'));
    await held;
    assert.deepEqual(order, ['holder in', 'holder out', 'waiter in']);
  }));

test('release removes only our own lock: one taken over meanwhile stays', () =>
  withDir(async (dir) => {
    await new StateLock(dir).run(() => writeLock(dir, holder({ token: 'took-over' })));
    assert.equal(JSON.parse(await readFile(join(dir, 'lock'), 'utf8')).token, 'took-over');
  }));

test('a failing writer releases the lock', () =>
  withDir(async (dir) => {
    await assert.rejects(
      new StateLock(dir).run(async () => {
        throw new Error('write failed');
      }),
      /write failed/,
    );
    assert.equal(await new StateLock(dir, { timeoutMs: 200 }).run(async () => 'next'), 'next');
  }));

// What broke in a pod: the agent is PID 1 of its container's namespace, it was killed while holding
// the lock, and the restarted container's agent is PID 1 again. Real PID namespaces via unshare(1).
test('a holder killed in its own PID namespace (PID 1 there) is taken over by the next PID 1', { timeout: 60_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to create PID namespaces (unshare --pid)');
  await withDir(async (dir) => {
    const holderScript = new URL('./lock-holder.ts', import.meta.url).pathname;
    const child = spawn('unshare', ['--pid', '--mount-proc', '--kill-child', process.execPath, '--import', 'tsx', holderScript, dir, '500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    try {
      const said = await new Promise<string>((resolve, reject) => {
        child.stdout.once('data', (d) => resolve(String(d)));
        child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${stderr}`)));
      });
      assert.equal(said.trim(), 'held by pid 1');
      const onDisk = JSON.parse(await readFile(join(dir, 'lock'), 'utf8')) as LockHolder;
      assert.equal(onDisk.pid, 1);
      assert.notEqual(onDisk.pidNs, me.pidNs);
    } finally {
      child.kill('SIGKILL'); // unshare --kill-child takes PID 1 of the namespace with it
      await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r)));
    }
    const next = spawnSync(
      'unshare',
      [
        '--pid',
        '--mount-proc',
        '--kill-child',
        process.execPath,
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { StateLock } from ${JSON.stringify(new URL('../../src/reconcile/state-lock.ts', import.meta.url).pathname)};
       console.log(await new StateLock(${JSON.stringify(dir)}, { staleMs: 500, timeoutMs: 10000 }).run(async () => 'pid ' + process.pid + ' took it'));`,
      ],
      { timeout: 30_000 },
    );
    assert.equal(next.status, 0, String(next.stderr));
    assert.equal(String(next.stdout).trim(), 'pid 1 took it');
  });
});

// One writer at a time per state dir: a CLI `apply` and a running agent
// would otherwise interleave read-modify-write of baseline.json (and lose the
// node's original values). A lock file holds the writer's PID; a lock whose
// process is gone is taken over.
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../kernel/kernel-files.js';

const POLL_MS = 100;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) === 'EPERM'; // exists, but not ours to signal
  }
}

export class StateLock {
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.path = join(dir, 'lock');
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      await rm(this.path, { force: true });
    }
  }

  private async acquire(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      try {
        const handle = await open(this.path, 'wx', 0o600);
        await handle.writeFile(String(process.pid));
        await handle.close();
        return;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(this.path, 'utf8').catch(() => '')).trim());
      if (!Number.isInteger(holder) || holder <= 0 || !alive(holder)) {
        await rm(this.path, { force: true }); // left by a process that is gone
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.path}: another conntrack-operator (pid ${holder}) is changing this host; try again when it has finished`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

// One writer at a time per state dir: a CLI `apply` and a running agent
// would otherwise interleave read-modify-write of baseline.json (and lose the
// node's original values). Node has no flock(2), so the lock is a file that
// names its holder, and a holder that died without removing it must be told
// apart from one that is working:
// - same PID namespace: the holder's PID and start time say whether it lives
//   (a bare PID would not: in a container the agent is always PID 1, so a
//   restarted agent would wait forever on the lock its killed self left);
// - another PID namespace (agent pod vs host CLI, or the container before a
//   restart): its PID means nothing here, so the holder touches the file every
//   heartbeat and a file not touched for staleMs is abandoned;
// - another boot: abandoned (the state dir is on disk, the holder is not).
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readFile, rename, rm, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';
import { RealKernelFiles, type KernelFiles } from '../kernel/kernel-files.js';
import { readRegularFile } from '../regular-file.js';
import { systemClock } from '../clock.js';

/** Who holds the lock, as written in the lock file. */
export interface LockHolder {
  pid: number;
  /** The holder's PID namespace, as /proc/self/ns/pid reads ("pid:[4026531836]"). */
  pidNs: string;
  /** Field 22 of /proc/<pid>/stat: tells a PID reused by another process apart. */
  startTime: string;
  bootId: string;
  /** This acquisition: release and takeover remove only the file they judged. */
  token: string;
}

/** Our own process as procfs shows it, and whether a holder in our PID namespace still runs. */
export interface ProcessView {
  self(): Promise<Omit<LockHolder, 'token'>>;
  startTimeOf(pid: number): Promise<string | undefined>;
}

/** Field 22 of a stat line; the command name (field 2) may hold spaces and parentheses. */
export function startTimeFromStat(line: string): string | undefined {
  return line.slice(line.lastIndexOf(')') + 2).split(' ')[19];
}

/**
 * The process's own /proc, read through the kernel files seam (the Host's
 * `files`), but never under --proc-root: the lock is about this process,
 * wherever the host's procfs is mounted.
 */
export function procfsView(files: KernelFiles = new RealKernelFiles(), proc = '/proc'): ProcessView {
  const startTimeOf = async (pid: number | 'self') => {
    const line = await files.read(join(proc, String(pid), 'stat')).catch(() => undefined);
    return line === undefined ? undefined : startTimeFromStat(line);
  };
  return {
    self: async () => ({
      pid: process.pid,
      pidNs: await files.readLink(join(proc, 'self/ns/pid')).catch(() => ''), // unknown: judged by heartbeat
      startTime: (await startTimeOf('self')) ?? '',
      bootId: (await files.read(join(proc, 'sys/kernel/random/boot_id')).catch(() => '')).trim(),
    }),
    startTimeOf,
  };
}

export interface StateLockOptions {
  /** How long to wait for a live holder before giving up. */
  timeoutMs?: number;
  /** A holder in another PID namespace that has not touched the file for this long is gone. */
  staleMs?: number;
  heartbeatMs?: number;
  view?: ProcessView;
}

// The lock's times are the wall clock (systemClock), not the Host's: a holder's age is measured against
// the mtime the kernel stamps, and the waits are real timers.
const POLL_MS = 100;

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    return typeof h.pid === 'number' && typeof h.pidNs === 'string' && typeof h.token === 'string' ? (h as LockHolder) : undefined;
  } catch {
    return undefined; // an older agent's bare PID, or a half-written file: judged by its age alone
  }
}

/** The entry at a path, never followed; identity is device, inode and content (inode numbers are reused, tokens are not). */
async function entryAt(path: string): Promise<{ identity: string; text: string; isFile: boolean; mtimeMs: number }> {
  const st = await lstat(path);
  const text = st.isFile() ? (await readRegularFile(path, 64 * 1024)).text : '';
  return { identity: `${st.dev}:${st.ino}:${st.isFile()}:${text}`, text, isFile: st.isFile(), mtimeMs: st.mtimeMs };
}

interface LockFound {
  /** What takeover compares: it removes only the very entry it judged. */
  identity: string;
  holder: LockHolder | undefined;
  ageMs: number;
  notAFile: boolean;
}

export class StateLock {
  readonly path: string;
  private readonly timeoutMs: number;
  private readonly staleMs: number;
  private readonly heartbeatMs: number;
  private readonly view: ProcessView;

  constructor(
    private readonly dir: string,
    opts: StateLockOptions = {},
  ) {
    this.path = join(dir, 'lock');
    this.staleMs = opts.staleMs ?? 10_000;
    // Long enough that an abandoned lock from another namespace is taken over within one wait.
    this.timeoutMs = opts.timeoutMs ?? this.staleMs + 5_000;
    this.heartbeatMs = opts.heartbeatMs ?? Math.max(10, Math.floor(this.staleMs / 10));
    this.view = opts.view ?? procfsView();
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const token = await this.acquire();
    const heartbeat = setInterval(() => void this.touch(token), this.heartbeatMs);
    try {
      return await fn();
    } finally {
      clearInterval(heartbeat);
      await this.removeIf(token);
    }
  }

  private async acquire(): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const me: LockHolder = { ...(await this.view.self()), token: randomBytes(8).toString('hex') };
    const deadline = systemClock() + this.timeoutMs;
    for (;;) {
      try {
        await this.create(me);
        return me.token;
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const found = await this.readLock();
      if (found && (await this.abandoned(found, me))) {
        await this.takeOver(found.identity);
        continue;
      }
      if (systemClock() > deadline) {
        const holder = found?.holder ? `pid ${found.holder.pid}${found.holder.pidNs === me.pidNs ? '' : ` in ${found.holder.pidNs}`}` : 'unknown';
        throw new Error(`${this.path}: another conntrack-operator (${holder}) is changing this host; try again when it has finished`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  /** The lock file, written whole or not at all: a write that fails (a full disk) removes the file it created. */
  private async create(me: LockHolder): Promise<void> {
    const handle = await open(this.path, 'wx', 0o600);
    try {
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(this.path, { force: true });
      throw err;
    }
    await handle.close();
  }

  /**
   * What is at the lock path, judged by what it is and holds, not by whether
   * the path exists: anything but a regular file (a dangling symlink, a
   * directory, a FIFO) is no lock any holder could release.
   */
  private async readLock(): Promise<LockFound | undefined> {
    try {
      const entry = await entryAt(this.path);
      return {
        identity: entry.identity,
        holder: entry.isFile ? parseHolder(entry.text) : undefined,
        ageMs: systemClock() - entry.mtimeMs,
        notAFile: !entry.isFile,
      };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined; // released meanwhile: try again
      throw err;
    }
  }

  private async abandoned({ holder, ageMs, notAFile }: LockFound, me: LockHolder): Promise<boolean> {
    if (notAFile) return true;
    if (holder && holder.bootId !== me.bootId) return true;
    if (holder && holder.pidNs !== '' && holder.pidNs === me.pidNs) return (await this.view.startTimeOf(holder.pid)) !== holder.startTime;
    return ageMs > this.staleMs;
  }

  /** Remove the abandoned entry, unless another waiter has replaced it since we judged it. */
  private async takeOver(judged: string): Promise<void> {
    const aside = `${this.path}.${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.path, aside); // atomic: from here no one else can remove what we move
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    if ((await entryAt(aside)).identity !== judged) {
      await link(aside, this.path).catch(() => undefined); // a live lock: put it back
      await rm(aside, { force: true });
      return;
    }
    await rm(aside, { force: true, recursive: true });
  }

  private async removeIf(token: string): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    if (parseHolder(text)?.token === token) await rm(this.path, { force: true });
  }

  private async touch(token: string): Promise<void> {
    const text = await readFile(this.path, 'utf8').catch(() => '');
    if (parseHolder(text)?.token !== token) return;
    const now = new Date(systemClock());
    await utimes(this.path, now, now).catch(() => undefined); // a missed beat is made up by the next
  }
}

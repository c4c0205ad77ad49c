// The seam between the project and the kernel's files (kube-proxy's sysctl
// seam, widened to the few file operations we need). Errors are the kernel's
// own: NodeJS.ErrnoException with code ENOENT, EACCES, EPERM, EROFS, EINVAL.
// Tests use test/support/fake-kernel.ts, which fails the same way.
import { access, constants, open, readdir, stat } from 'node:fs/promises';
import { closeSync, openSync, readFileSync, readSync, readlinkSync, statSync } from 'node:fs';
import { Readable } from 'node:stream';

export interface KernelFiles {
  read(path: string): Promise<string>;
  /** One write(2) of the whole value, as `echo v > file` does. */
  write(path: string, data: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  readLink(path: string): Promise<string>;
  /** The inode number stat(2) gives, following symlinks (ENOENT once the path is gone). */
  inode(path: string): Promise<number>;
  /** The link count stat(2) gives; for the proc root a constant plus the number of processes on the node (every pid namespace's). */
  linkCount(path: string): Promise<number>;
  /** Whether a write would be permitted (mode, read-only mount, namespace). */
  canWrite(path: string): Promise<boolean>;
  /** Permission bits (e.g. 0o644); a sysctl's mode tells what the kernel allows in this namespace. */
  mode(path: string): Promise<number>;
  stream(path: string): Readable;
}

export class RealKernelFiles implements KernelFiles {
  /**
   * Synchronous, as readLink: every file read here is small and answered from
   * memory (/proc, /sys, or a copy of them), and the four thread-pool round
   * trips of readFile cost about five times the syscalls (measured here on
   * /proc/<pid>/net/stat/nf_conntrack: 146 us of CPU a read against 30 us).
   * The watch reads such files every second; the census, a few per namespace.
   */
  async read(path: string): Promise<string> {
    return readFileSync(path, 'utf8');
  }

  async write(path: string, data: string): Promise<void> {
    // As `echo v > file` opens it: O_TRUNC is ignored by proc/sys files and makes
    // plain files (a copied tree) behave the same. No O_CREAT: a missing key is ENOENT.
    const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await handle.write(data);
    } finally {
      await handle.close();
    }
  }

  list(dir: string): Promise<string[]> {
    return readdir(dir);
  }

  /**
   * Synchronous: a /proc link is answered from memory, and a thread-pool round
   * trip costs several times the syscall (bench/netns-census.bench.ts: the
   * census readlinks every pid). Callers over many pids go in batches
   * (mapInBatches) that yield to the event loop between them.
   */
  async readLink(path: string): Promise<string> {
    return readlinkSync(path);
  }

  /** Synchronous for the same reason as readLink: the census stats a /proc directory per pid. */
  async inode(path: string): Promise<number> {
    return statSync(path).ino;
  }

  async linkCount(path: string): Promise<number> {
    return statSync(path).nlink;
  }

  async canWrite(path: string): Promise<boolean> {
    try {
      await access(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  async mode(path: string): Promise<number> {
    return (await stat(path)).mode & 0o7777;
  }

  stream(path: string): Readable {
    return Readable.from(readInBatches(path), { objectMode: false });
  }
}

const BATCH = 1 << 16;

/**
 * A /proc file hands out about 4 KiB per read(2). Read it synchronously and
 * pass on up to 64 KiB at a time: one thread-pool round trip per 4 KiB (what a
 * read stream does) costs more than the kernel's own work. Errors (ENOENT,
 * EACCES) surface on the first read.
 */
function* readInBatches(path: string): Generator<Buffer> {
  const fd = openSync(path, 'r');
  try {
    for (let eof = false; !eof;) {
      const buf = Buffer.allocUnsafe(BATCH);
      let filled = 0;
      while (filled < BATCH) {
        const n = readSync(fd, buf, filled, BATCH - filled, null);
        if (n === 0) {
          eof = true;
          break;
        }
        filled += n;
      }
      if (filled > 0) yield buf.subarray(0, filled);
    }
  } finally {
    closeSync(fd);
  }
}

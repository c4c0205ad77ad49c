// The seam between the project and the kernel's files (kube-proxy's sysctl
// seam, widened to the few file operations we need). Errors are the kernel's
// own: NodeJS.ErrnoException with code ENOENT, EACCES, EPERM, EROFS, EINVAL.
// Tests use test/support/fake-kernel.ts, which fails the same way.
import { access, constants, open, readFile, readdir, readlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

export interface KernelFiles {
  read(path: string): Promise<string>;
  /** One write(2) of the whole value, as `echo v > file` does. */
  write(path: string, data: string): Promise<void>;
  list(dir: string): Promise<string[]>;
  readLink(path: string): Promise<string>;
  /** Whether a write would be permitted (mode, read-only mount, namespace). */
  canWrite(path: string): Promise<boolean>;
  stream(path: string): Readable;
}

export class RealKernelFiles implements KernelFiles {
  read(path: string): Promise<string> {
    return readFile(path, 'utf8');
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

  readLink(path: string): Promise<string> {
    return readlink(path);
  }

  async canWrite(path: string): Promise<boolean> {
    try {
      await access(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }

  stream(path: string): Readable {
    return createReadStream(path, { highWaterMark: 1 << 16 });
  }
}

/** The errno code of an error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

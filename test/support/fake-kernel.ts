// A map-backed KernelFiles that fails like the kernel does: ENOENT for a key
// this kernel lacks, EACCES for a key read-only in this namespace, EROFS for a
// read-only /sys mount, EINVAL for a value the kernel refuses. Every write is
// recorded, and any write can be made to fail (fault injection).
import { Readable } from 'node:stream';
import { dirname } from 'node:path';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';

export type WriteRefusal = 'EACCES' | 'EPERM' | 'EROFS';
export type ReadRefusal = 'EACCES' | 'EPERM' | 'EIO';

export interface FakeFile {
  content: string;
  /** Why a write fails; undefined = writable. */
  refuse?: WriteRefusal;
  /** Why a read fails (a key hidden from this user or namespace); undefined = readable. */
  refuseRead?: ReadRefusal;
  /** Return false to fail the write with EINVAL, as the kernel does for out-of-range values. */
  accept?: (value: string) => boolean;
  /** Permission bits as stat shows them; 0o644 when not given. */
  mode?: number;
  /** Side effect of a successful write on other files (buckets <-> hashsize). */
  onWrite?: (value: string, kernel: FakeKernel) => void;
}

export interface RecordedWrite {
  path: string;
  value: string;
  ok: boolean;
  error?: string;
}

export function errno(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const err = new Error(`${code}: ${syscall} '${path}'`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  err.path = path;
  return err;
}

export class FakeKernel implements KernelFiles {
  readonly files = new Map<string, FakeFile>();
  readonly links = new Map<string, string>();
  readonly writes: RecordedWrite[] = [];
  /** Inodes by path; a file or directory not given one gets its own on first stat, as on a file system. */
  readonly inodes = new Map<string, number>();
  private nextInode = 1_000_000;
  private writeFailures = new Map<number, string>();
  private writeCount = 0;

  constructor(files: Record<string, string | FakeFile> = {}) {
    for (const [path, f] of Object.entries(files)) this.set(path, f);
  }

  set(path: string, file: string | FakeFile): this {
    this.files.set(path, typeof file === 'string' ? { content: file } : file);
    return this;
  }

  link(path: string, target: string): this {
    this.links.set(path, target);
    return this;
  }

  /** Give a file or directory an inode: paths given the same one are one object (e.g. one namespace's /proc/<pid>/net/stat). */
  setInode(path: string, inode: number): this {
    this.inodes.set(path, inode);
    return this;
  }

  /** Make the nth write from now (1-based) fail with code (default EIO). */
  failWrite(n: number, code = 'EIO'): this {
    this.writeFailures.set(this.writeCount + n, code);
    return this;
  }

  value(path: string): string | undefined {
    return this.files.get(path)?.content.trim();
  }

  async read(path: string): Promise<string> {
    const code = this.openError(path);
    if (code) throw errno(code, 'open', path);
    return this.files.get(path)!.content;
  }

  async write(path: string, data: string): Promise<void> {
    const n = ++this.writeCount;
    const f = this.files.get(path);
    const value = data.trim();
    const fail = (code: string): never => {
      this.writes.push({ path, value, ok: false, error: code });
      throw errno(code, 'write', path);
    };
    if (!f) return fail('ENOENT');
    if (f.refuse) return fail(f.refuse);
    if (((f.mode ?? 0o644) & 0o222) === 0) return fail('EACCES');
    const injected = this.writeFailures.get(n);
    if (injected) return fail(injected);
    if (!/^-?[0-9]+$/.test(value) || (f.accept && !f.accept(value))) return fail('EINVAL');
    f.content = `${value}\n`;
    this.writes.push({ path, value, ok: true });
    f.onWrite?.(value, this);
  }

  async list(dir: string): Promise<string[]> {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const names = new Set<string>();
    for (const p of [...this.files.keys(), ...this.links.keys()]) {
      if (p.startsWith(prefix)) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    if (names.size === 0) throw errno('ENOENT', 'scandir', dir);
    return [...names].sort();
  }

  async readLink(path: string): Promise<string> {
    const t = this.links.get(path);
    if (t === undefined) throw errno(this.files.has(path) ? 'EINVAL' : 'ENOENT', 'readlink', path);
    return t;
  }

  /** As stat(2): ENOENT once nothing is at the path (an exited process's /proc/<pid>/...). */
  async inode(path: string): Promise<number> {
    if (!this.files.has(path) && !this.isDir(path)) throw errno('ENOENT', 'stat', path);
    let inode = this.inodes.get(path);
    if (inode === undefined) this.inodes.set(path, (inode = this.nextInode++));
    return inode;
  }

  /** As stat(2)'s st_nlink of a directory on most file systems: 2 and one per subdirectory (for /proc: changes as processes come and go). */
  async linkCount(path: string): Promise<number> {
    if (this.files.has(path)) return 1;
    if (!this.isDir(path)) throw errno('ENOENT', 'stat', path);
    const prefix = `${path}/`;
    const subdirs = new Set<string>();
    for (const p of this.files.keys()) if (p.startsWith(prefix) && p.slice(prefix.length).includes('/')) subdirs.add(p.slice(prefix.length).split('/')[0]!);
    return 2 + subdirs.size;
  }

  /** As access(W_OK) does: a refused write, or a file without write bits (the kernel's 0444), is not writable. */
  async canWrite(path: string): Promise<boolean> {
    const f = this.files.get(path);
    return f !== undefined && f.refuse === undefined && ((f.mode ?? 0o644) & 0o222) !== 0;
  }

  async mode(path: string): Promise<number> {
    const f = this.files.get(path);
    if (!f) throw errno('ENOENT', 'stat', path);
    return f.mode ?? 0o644;
  }

  /** As read() does, an open that fails fails the stream: a refused file streams nothing. */
  stream(path: string): Readable {
    const code = this.openError(path);
    if (code) {
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(errno(code, 'open', path)));
      return r;
    }
    return Readable.from([this.files.get(path)!.content]);
  }

  /** Why opening path for reading fails, as open(2) says it; undefined when it opens. */
  private openError(path: string): string | undefined {
    const f = this.files.get(path);
    if (!f) return this.isDir(path) ? 'EISDIR' : 'ENOENT';
    return f.refuseRead;
  }

  private isDir(path: string): boolean {
    const prefix = `${path}/`;
    return [...this.files.keys()].some((p) => p.startsWith(prefix) || dirname(p) === path);
  }
}

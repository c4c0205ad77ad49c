// Loads a fixture tree (test/fixtures/<name>/, files copied from a real
// kernel) into a FakeKernel, so the kernel readers run on it exactly as on
// /proc and /sys. Inodes are the tree's own on disk: where a capture made
// each pid's `net` a symlink to one directory per network namespace
// (netns-census), the processes of one namespace share its net/stat inode, as
// on /proc. What cannot be copied from /proc — the ns/net symlinks and
// the errors the real kernel gave (EACCES on /proc/1/ns/net on the machine the
// tree was taken from) — comes from the tree's links.json:
//   { "proc/self/ns/net": "net:[4026531833]", "proc/1/ns/net": { "error": "EACCES" } }
// Files at the tree's top level (conntrack-S.txt, ...) are command outputs,
// not part of /proc or /sys: read them with fixtureText().
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HostPaths } from '../../src/kernel/host-paths.js';
import { OWN_NETNS_LINK } from '../../src/kernel/netlink-scope.js';
import { FakeKernel, errno, type ReadRefusal } from './fake-kernel.js';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

type LinkSpec = string | { error: string };

/** A FakeKernel whose tree's files can also refuse reads, and its links readLinks, with a given errno, as the real kernel did. */
export class FixtureKernel extends FakeKernel {
  private linkErrors = new Map<string, string>();

  /** Reads (read and stream) of a file of the tree fail with code, as for a user or namespace the kernel hides it from. */
  failRead(path: string, code: ReadRefusal): this {
    const file = this.files.get(path);
    if (!file) throw new Error(`failRead: ${path} is not in the tree`);
    file.refuseRead = code;
    return this;
  }

  failReadLink(path: string, code: string): this {
    this.linkErrors.set(path, code);
    return this;
  }

  /** A link set later replaces an error given earlier. */
  override link(path: string, target: string): this {
    this.linkErrors.delete(path);
    return super.link(path, target);
  }

  override async readLink(path: string): Promise<string> {
    const code = this.linkErrors.get(path);
    if (code) throw errno(code, 'readlink', path);
    return super.readLink(path);
  }
}

export interface FixtureTree {
  kernel: FixtureKernel;
  paths: HostPaths;
  dir: string;
}

/** A namespace's net/stat as the capture laid it out: <tree>/netns/<its inode on the real kernel>/stat. */
const CAPTURED_NET_STAT = /\/netns\/(\d+)\/stat$/;

/**
 * Files (rel path, content) and every path's inode; symlinks are followed, so
 * a directory linked from two places is one inode at both: the captured
 * kernel's own for a namespace's net/stat, the tree's on disk otherwise.
 */
function walk(dir: string, rel: string, out: Array<[string, string]>, inodes: Array<[string, number]>): void {
  for (const name of readdirSync(dir)) {
    const abs = join(dir, name);
    const relPath = rel ? `${rel}/${name}` : name;
    const st = statSync(abs);
    const captured = CAPTURED_NET_STAT.exec(realpathSync(abs));
    inodes.push([relPath, captured ? Number(captured[1]) : st.ino]);
    if (st.isDirectory()) walk(abs, relPath, out, inodes);
    else out.push([relPath, readFileSync(abs, 'utf8')]);
  }
}

/** The namespace of the process reading a copied tree: none of the fixtures' own. */
const OTHER_NETNS = 'net:[4026539999]';

/**
 * Load test/fixtures/<name>/proc and /sys into a FixtureKernel rooted at the tree's own path.
 * `links`: another file of the tree's links than links.json (netns-census: links-without-ptrace.json).
 * `live`: the tree stands for this process's own /proc (its self/ns/net is ours), so
 * conntrack-tools answer for it; otherwise it is a copied tree and they are never run.
 */
export function loadFixtureTree(name: string, options: { live?: boolean; links?: string } = {}): FixtureTree {
  const dir = join(FIXTURES_DIR, name);
  const kernel = new FixtureKernel();
  for (const top of ['proc', 'sys']) {
    const files: Array<[string, string]> = [];
    const inodes: Array<[string, number]> = [];
    try {
      walk(join(dir, top), top, files, inodes);
    } catch {
      continue; // a tree without /sys/module/nf_conntrack may have no sys/ at all
    }
    for (const [rel, content] of files) kernel.set(join(dir, rel), content);
    for (const [rel, inode] of inodes) kernel.setInode(join(dir, rel), inode);
  }
  // File modes as stat showed them on the real kernel (copies lose them; the kernel makes
  // global keys 0444 outside the initial network namespace).
  const modesFile = join(dir, 'modes.json');
  const modes = existsSync(modesFile) ? (JSON.parse(readFileSync(modesFile, 'utf8')) as Record<string, string>) : {};
  for (const [rel, mode] of Object.entries(modes)) {
    const file = kernel.files.get(join(dir, rel));
    if (file) file.mode = parseInt(mode, 8);
  }
  const links = JSON.parse(readFileSync(join(dir, options.links ?? 'links.json'), 'utf8')) as Record<string, LinkSpec>;
  for (const [rel, spec] of Object.entries(links)) {
    if (typeof spec === 'string') kernel.link(join(dir, rel), spec);
    else kernel.failReadLink(join(dir, rel), spec.error);
  }
  const paths = new HostPaths({ procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys') });
  const self = links['proc/self/ns/net'];
  // A process always has its own namespace link; reading a copied tree, it is another namespace than the tree's.
  kernel.link(OWN_NETNS_LINK, options.live && typeof self === 'string' ? self : OTHER_NETNS);
  return { kernel, paths, dir };
}

/** A command output captured into the tree (e.g. conntrack-S.txt). */
export function fixtureText(name: string, file: string): string {
  return readFileSync(join(FIXTURES_DIR, name, file), 'utf8');
}

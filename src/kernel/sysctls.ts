// The conntrack sysctls as numbers, discovered by listing
// /proc/sys/net/netfilter (the set differs by kernel version: never assumed).
import type { HostPaths } from './host-paths.js';
import type { Host } from './host.js';
import { unreadable, type Unreadable } from './unreadable.js';
import { errnoCode } from '../errors.js';

const CONNTRACK_SYSCTL_PREFIX = 'nf_conntrack_';
const NOT_A_VALUE = new Set(['ENOENT', 'EISDIR']);
// The table's size figures are C ints the kernel keeps in 0..INT_MAX (max 0 means
// "no limit", so it is plausible). Anything else (a negative count, from a copied or
// tampered tree) is not a reading: it would print as negative usage.
const TABLE_SIZE_KEYS = new Set(['nf_conntrack_count', 'nf_conntrack_max', 'nf_conntrack_buckets']);
const INT_MAX = 2 ** 31 - 1;

/** An Unreadable for a value no kernel prints for this key, or null when it is plausible. */
function implausible(name: string, path: string, value: number): Unreadable | null {
  if (!TABLE_SIZE_KEYS.has(name) || (value >= 0 && value <= INT_MAX)) return null;
  return { what: `sysctl ${name}`, path, code: `implausible value ${value}`, needsRoot: false };
}

export interface ConntrackSysctls {
  /** Every numeric nf_conntrack_* key present, by file name. Empty when conntrack is not loaded. */
  values: Record<string, number>;
  unreadable: Unreadable[];
}

/** The integer in a sysctl file, or null for a non-numeric value ("0 0", a directory, empty). */
export function parseSysctlNumber(text: string): number | null {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : null;
}

/** Read every nf_conntrack_* sysctl present. A missing directory means no conntrack here: no values, no error. */
export async function readConntrackSysctls(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<ConntrackSysctls> {
  const { files, paths, isRoot } = host;
  const result: ConntrackSysctls = { values: {}, unreadable: [] };
  let names: string[];
  try {
    names = (await files.list(paths.netfilterDir())).filter((n) => n.startsWith(CONNTRACK_SYSCTL_PREFIX)).sort();
  } catch (err) {
    names = [];
    if (errnoCode(err) !== 'ENOENT') result.unreadable.push(unreadable('conntrack sysctls', paths.netfilterDir(), err, isRoot));
  }
  const printed = new Set<string>();
  const take = (name: string, path: string, value: number | null): void => {
    if (value === null) return;
    printed.add(name);
    const wrong = implausible(name, path, value);
    if (wrong) result.unreadable.push(wrong);
    else result.values[name] = value;
  };
  const texts = await Promise.all(names.map((n) => files.read(paths.sysctl(n)).catch((err: unknown) => err)));
  names.forEach((name, i) => {
    const text = texts[i];
    if (typeof text !== 'string') {
      // A directory (nf_conntrack_helper-like) or a key gone meanwhile is no value; a permission error is worth naming.
      if (!NOT_A_VALUE.has(errnoCode(text) ?? '')) result.unreadable.push(unreadable(`sysctl ${name}`, paths.sysctl(name), text, isRoot));
      return;
    }
    take(name, paths.sysctl(name), parseSysctlNumber(text));
  });
  // Older layouts keep only net.nf_conntrack_max; it is the same value as netfilter's,
  // so it does not stand in for an implausible figure netfilter's file printed.
  if (!printed.has('nf_conntrack_max')) {
    const legacy = await files.read(legacyMaxPath(paths)).catch(() => undefined);
    take('nf_conntrack_max', legacyMaxPath(paths), legacy === undefined ? null : parseSysctlNumber(legacy));
  }
  return result;
}

/** /proc/sys/net/nf_conntrack_max: the old name of netfilter's nf_conntrack_max. */
function legacyMaxPath(paths: HostPaths): string {
  return paths.proc('sys', 'net', 'nf_conntrack_max');
}

/** The hashsize module parameter, or null where /sys/module/nf_conntrack/parameters is absent (not loaded, or /sys not mounted). */
export async function readHashsize(host: Pick<Host, 'files' | 'paths'>): Promise<number | null> {
  const text = await host.files.read(host.paths.hashsizeParam()).catch(() => null);
  return text === null ? null : parseSysctlNumber(text);
}

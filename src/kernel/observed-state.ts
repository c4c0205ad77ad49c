// The kernel state the reconcile planner needs, and its reader: every
// conntrack sysctl with whether it can be written here and why not, and how
// the bucket count can be changed. Read here, consumed by the pure planner
// (types only). Runs every reconcile (30 s): only file reads and access(2)
// checks, no process spawned.
import { readNetnsFacts } from './host-facts.js';
import type { HostPaths } from './host-paths.js';
import type { Host } from './host.js';
import { readConntrackSysctls, readHashsize } from './sysctls.js';
import { unreadableReason, type Unreadable } from './unreadable.js';

interface ObservedKey {
  value: number;
  /** False when a write would fail; reason says why (read-only in a non-host namespace, read-only /sys, ...). */
  writable: boolean;
  reason?: string;
}

export interface ObservedState {
  /** Every conntrack sysctl present on this kernel (discovered, not assumed). Missing key = not on this kernel. */
  sysctls: Record<string, ObservedKey>;
  /** Bucket count and the way to change it: the sysctl where writable, else the module parameter, else none. */
  buckets: { value: number; via: 'sysctl' | 'hashsize' | null; reason?: string } | null;
  /** Sysctls listed but not readable here, by key: why (permission denied, ...); never "not present". */
  unreadable?: Record<string, string>;
  /** True in the initial network namespace; null when it cannot be told. */
  hostNetns: boolean | null;
}

/** Keys only the initial network namespace may write (global to the host). */
const GLOBAL_KEYS = new Set(['nf_conntrack_max', 'nf_conntrack_buckets']);
/** Keys the kernel never lets anyone write. */
const READ_ONLY_KEYS = new Set(['nf_conntrack_count']);

const REASON_NOT_HOST_NETNS = 'read-only outside the host network namespace';
const REASON_GLOBAL_KEY_HERE = 'read-only here: outside the host network namespace, or not root';
const REASON_READ_ONLY_KEY = 'read-only: the kernel reports it, nobody writes it';
const REASON_NOT_PERMITTED = 'not writable here: needs root with CAP_NET_ADMIN and a writable /proc/sys';
const REASON_HASHSIZE_READ_ONLY = 'hashsize module parameter not writable: read-only /sys or not root';
const REASON_NO_BUCKET_CONTROL = 'neither nf_conntrack_buckets nor the hashsize module parameter is writable here';

function notWritableReason(key: string, hostNetns: boolean | null): string {
  if (READ_ONLY_KEYS.has(key)) return REASON_READ_ONLY_KEY;
  if (GLOBAL_KEYS.has(key)) return hostNetns === false ? REASON_NOT_HOST_NETNS : REASON_GLOBAL_KEY_HERE;
  return REASON_NOT_PERMITTED;
}

/**
 * Read the observed state afresh. The agent's pass read a snapshot moments
 * before, but the reconciler's first look runs under the state lock, so that
 * a plan and the originals it records come from what no other writer can
 * change meanwhile: the sysctls are read again here on purpose.
 */
export async function readObservedState(host: Pick<Host, 'files' | 'paths' | 'isRoot'>): Promise<ObservedState> {
  const { files, paths } = host;
  const [{ values, unreadable }, hostNetns, hashsize] = await Promise.all([
    readConntrackSysctls(host),
    readNetnsFacts(host).then((n) => n.host),
    readHashsize(host),
  ]);
  const names = Object.keys(values).sort();
  const writable = await Promise.all(names.map((n) => files.canWrite(paths.sysctl(n))));
  const sysctls: Record<string, ObservedKey> = {};
  names.forEach((name, i) => {
    sysctls[name] = writable[i]
      ? { value: values[name]!, writable: true }
      : { value: values[name]!, writable: false, reason: notWritableReason(name, hostNetns) };
  });
  const state: ObservedState = { sysctls, buckets: await observeBuckets(host, sysctls.nf_conntrack_buckets, hashsize), hostNetns };
  const notRead = unreadableSysctls(paths, unreadable);
  return Object.keys(notRead).length ? { ...state, unreadable: notRead } : state;
}

/** The sysctls whose files were listed but not read, by key, with the reason in words (EACCES is not "not present"). */
function unreadableSysctls(paths: HostPaths, problems: Unreadable[]): Record<string, string> {
  const dir = `${paths.netfilterDir()}/`;
  const byKey: Record<string, string> = {};
  for (const u of problems) if (u.path.startsWith(dir)) byKey[u.path.slice(dir.length)] = unreadableReason(u);
  return byKey;
}

async function observeBuckets(
  host: Pick<Host, 'files' | 'paths'>,
  sysctl: ObservedKey | undefined,
  hashsize: number | null,
): Promise<ObservedState['buckets']> {
  const value = sysctl?.value ?? hashsize;
  if (value === null || value === undefined) return null;
  if (sysctl?.writable) return { value, via: 'sysctl' };
  if (hashsize !== null && (await host.files.canWrite(host.paths.hashsizeParam()))) return { value, via: 'hashsize' };
  const reasons = [sysctl?.reason, hashsize === null ? undefined : REASON_HASHSIZE_READ_ONLY].filter((r) => r !== undefined);
  return { value, via: null, reason: reasons.length ? `${REASON_NO_BUCKET_CONTROL} (${reasons.join('; ')})` : REASON_NO_BUCKET_CONTROL };
}

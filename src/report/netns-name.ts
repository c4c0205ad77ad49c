// How a report names a network namespace for a person: by its pod where the
// pod is known, else by its inode ("netns 4026532174", what the kernel's
// "table full in netns N" line and lsns say), else by a process in it. The
// inode may be unknown: it is read through /proc/<pid>/ns/net, which needs
// ptrace rights over that process. Pure.
import type { NetnsIdentityDoc } from '../api/v1alpha1/status.js';

/** What the name is made from; fields the caller does not know are left out (or null). */
export interface NetnsNaming {
  host: boolean;
  inode?: number | null;
  pid?: number | null;
  podUid?: string | null;
  podNamespace?: string | null;
  podName?: string | null;
}

/** "pod shop/web-7f9c (netns 4026532174)", "the host namespace", "netns 4026532174", "the namespace of pid 812". */
export function netnsName(n: NetnsNaming): string {
  const inode = n.inode ?? null;
  const netns = inode !== null ? `netns ${inode}` : null;
  const pod = n.podNamespace && n.podName ? `pod ${n.podNamespace}/${n.podName}` : n.podUid ? `pod UID ${n.podUid}` : null;
  if (n.host) return netns ? `the host namespace (${netns})` : 'the host namespace';
  if (pod) return netns ? `${pod} (${netns})` : pod;
  if (netns) return netns;
  return n.pid !== undefined && n.pid !== null ? `the namespace of pid ${n.pid}` : 'a namespace that could not be identified';
}

/** The status's identity fields of a namespace: only what is known. */
export function netnsIdentity(n: NetnsNaming): NetnsIdentityDoc {
  return {
    host: n.host,
    ...(n.pid !== undefined && n.pid !== null ? { pid: n.pid } : {}),
    ...(n.inode !== undefined && n.inode !== null ? { inode: n.inode } : {}),
    ...(n.podUid ? { podUid: n.podUid } : {}),
    ...(n.podNamespace && n.podName ? { podNamespace: n.podNamespace, podName: n.podName } : {}),
  };
}

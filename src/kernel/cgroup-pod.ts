// The pod a process belongs to, from its /proc/<pid>/cgroup: the kubelet puts
// every container of a pod under a cgroup named for the pod's UID. No I/O.
//   cgroupfs driver:  /kubepods/burstable/pod<uid>/<container>   (guaranteed: /kubepods/pod<uid>/...)
//   systemd driver:   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _ for ->.slice/cri-containerd-<id>.scope
// Both under cgroup v1 (one line per hierarchy, "4:memory:/kubepods/...") and
// v2 ("0::/kubepods.slice/..."), also below a prefix (kind's /kubelet.slice,
// docker-in-docker's /docker/<id>), and seen from a private cgroup namespace
// ("0::/../../kubepods-...").

const CGROUPFS = /(?:^|\/)kubepods(?:\/(?:burstable|besteffort))?\/pod([0-9a-f-]+)(?:\/|$)/;
const SYSTEMD = /kubepods(?:-(?:burstable|besteffort))?-pod([0-9a-f_]+)\.slice(?:\/|$)/;
// A UUID (API-created pods), or 32 hex digits (static pods: the kubelet's hash of the manifest).
const UID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$/;

/** The pod UID in one cgroup path, or null. */
function podUidFromCgroupPath(path: string): string | null {
  const m = CGROUPFS.exec(path) ?? SYSTEMD.exec(path);
  const uid = m?.[1]?.replaceAll('_', '-');
  return uid !== undefined && UID.test(uid) ? uid : null;
}

/** The pod UID named by a /proc/<pid>/cgroup file (any hierarchy line), or null for a process outside any pod. */
export function podUidFromCgroup(text: string): string | null {
  for (const line of text.split('\n')) {
    // hierarchy-ID:controllers:path; the path may itself contain ':'.
    const path = line.split(':').slice(2).join(':');
    const uid = podUidFromCgroupPath(path);
    if (uid !== null) return uid;
  }
  return null;
}

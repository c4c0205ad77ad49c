// Every /proc and /sys path the project reads or writes, built from two root
// directories (node_exporter's rule): /proc and /sys on a plain host,
// /host/proc and /host/sys in a pod, a fixture tree in tests. Never a global.
import { join } from 'node:path';

export interface HostRoots {
  procRoot: string;
  sysRoot: string;
}

const NETFILTER_SYSCTL_DIR = 'sys/net/netfilter';

export class HostPaths {
  constructor(readonly roots: HostRoots) {}

  proc(...parts: string[]): string {
    return join(this.roots.procRoot, ...parts);
  }

  sys(...parts: string[]): string {
    return join(this.roots.sysRoot, ...parts);
  }

  /** /proc/sys/net/netfilter: every conntrack sysctl lives here. */
  netfilterDir(): string {
    return this.proc(NETFILTER_SYSCTL_DIR);
  }

  /** A conntrack sysctl by file name, e.g. nf_conntrack_max. */
  sysctl(key: string): string {
    return join(this.netfilterDir(), key);
  }

  /** The nf_conntrack module's directory; present when the module is loaded (or built in). */
  moduleDir(): string {
    return this.sys('module', 'nf_conntrack');
  }

  /** Writing it resizes the hash table live (root, initial namespace). */
  hashsizeParam(): string {
    return this.sys('module', 'nf_conntrack', 'parameters', 'hashsize');
  }

  /** Per-CPU counters; only where the kernel keeps the old procfs interface. */
  statFile(pid: string = 'self'): string {
    return this.proc(pid, 'net', 'stat', 'nf_conntrack');
  }

  /**
   * Where our namespace's stat file may be, in order: proc/self/net (the real
   * location) and proc/net (a link to it on a live system; a plain directory
   * in node_exporter's fixtures and in many copies of /proc).
   */
  statFiles(): string[] {
    return [this.statFile(), this.proc('net', 'stat', 'nf_conntrack')];
  }

  /** The table as text; absent on many kernels (then conntrack -L). */
  tableFile(): string {
    return this.proc('self', 'net', 'nf_conntrack');
  }

  /** The table file in both layouts, as statFiles(). */
  tableFiles(): string[] {
    return [this.tableFile(), this.proc('net', 'nf_conntrack')];
  }

  /** The tree's ns/net link for the process reading it ("self" in a live procfs). */
  treeNetns(): string {
    return this.netns('self');
  }

  slabinfo(): string {
    return this.proc('slabinfo');
  }

  meminfo(): string {
    return this.proc('meminfo');
  }

  osRelease(): string {
    return this.proc('sys', 'kernel', 'osrelease');
  }

  /**
   * A process's /proc/<pid>/net/stat directory. Its inode is one per network
   * namespace, shared by every process in it, and stat needs no ptrace rights
   * (readlink of ns/net does): the census keys namespaces by it.
   */
  netStat(pid: string): string {
    return this.proc(pid, 'net', 'stat');
  }

  /** The ns/net link of a process: "net:[4026531833]". */
  netns(pid: string): string {
    return this.proc(pid, 'ns', 'net');
  }

  comm(pid: string): string {
    return this.proc(pid, 'comm');
  }

  /** The cgroup membership of a process; a kubelet's cgroup path names the pod's UID. */
  cgroup(pid: string): string {
    return this.proc(pid, 'cgroup');
  }
}

// Node-wide conntrack over every network namespace, from the census: what
// `doctor --json` prints as nodeWide and netns, and the NAMESPACES text block.
// Pure. Every namespace may hold up to nf_conntrack_max entries of its own
// (the max is global, the count per namespace), so "nearest its limit" is
// "most entries", and a pod's full table never shows in the host's count.
import type { NetnsCensus, NetnsCensusRow } from '../kernel/netns-census.js';
import { usagePercent } from './findings.js';
import { countText } from './count-text.js';

export interface NetnsEntry {
  /** The census key (the inode of /proc/<pid>/net/stat): one per namespace. */
  key: number;
  /** The nsfs inode (kmsg and lsns name it); null where reading the ns/net link was refused. */
  inode: number | null;
  /** A process in it: `nsenter -t PID -n`. */
  pid: number;
  entries: number | null;
  /** entries / nf_conntrack_max, in %. */
  usagePercent: number | null;
  drop: number | null;
  earlyDrop: number | null;
  insertFailed: number | null;
  /** The host's own namespace. */
  host: boolean;
  /** The namespace the doctor or agent runs in, whose figures the rest of the report shows. */
  ours: boolean;
  /** The pod whose containers are in this namespace, from their kubelet cgroup. */
  pod?: { uid: string };
}

export interface NodeWide {
  /** Entries summed over every namespace whose count was read; null when none could be. */
  entries: number | null;
  /** The host namespace's own count (what nf_conntrack_count reads there); null when not found or unread. */
  hostEntries: number | null;
  /** Distinct network namespaces with at least one process. */
  namespaces: number;
  /** Namespaces whose count could not be read (missing from `entries`). */
  namespacesUnread: number;
  /** Processes whose namespace could not be read (EACCES): their namespaces may be missing. */
  processesUnread: number;
  max: number | null;
  /**
   * The nf_conntrack slab over every namespace. Its active objects bound the
   * live entries, they do not count them: the cache is SLAB_TYPESAFE_BY_RCU,
   * so freed entries stay active objects until reused; and namespaces with no
   * process (held by a bind mount, as `ip netns add` makes them) have entries
   * there that no census through /proc/<pid> can see.
   */
  slab: {
    activeObjects: number;
    objectSize: number;
    activeBytes: number;
    /** activeObjects minus entries: freed-not-reused objects and entries of namespaces the census cannot see. */
    notInEntries: number | null;
  } | null;
  /** The namespace with the most entries, i.e. nearest its limit. */
  fullest: NetnsEntry | null;
  /** Namespaces with drops, early drops or failed inserts, most drops first; at most top N. */
  topByDrops: NetnsEntry[];
}

export interface NetnsReport {
  nodeWide: NodeWide;
  /** Most entries first; at most top N. */
  netns: NetnsEntry[];
}

const round1 = (v: number | null): number | null => (v === null ? null : Math.round(v * 10) / 10);

function entryOf(row: NetnsCensusRow, max: number | null): NetnsEntry {
  const c = row.counters;
  return {
    key: row.key,
    inode: row.inode,
    pid: row.pid,
    entries: row.entries,
    usagePercent: round1(usagePercent(row.entries, max)),
    drop: c ? (c.drop ?? 0) : null,
    earlyDrop: c ? (c.earlyDrop ?? 0) : null,
    insertFailed: c ? (c.insertFailed ?? 0) : null,
    host: row.host,
    ours: row.ours,
    ...(row.podUid !== null ? { pod: { uid: row.podUid } } : {}),
  };
}

const troubles = (e: NetnsEntry): number => (e.drop ?? 0) + (e.earlyDrop ?? 0) + (e.insertFailed ?? 0);

/** The namespaces the rest of a report does not cover: neither the host's nor the one we run in. */
export const isOther = (e: NetnsEntry): boolean => !e.host && !e.ours;

/** Every namespace of the census, most entries first. `max` is the global nf_conntrack_max each namespace's count is checked against. */
export function netnsEntries(census: NetnsCensus, max: number | null): NetnsEntry[] {
  return census.namespaces.map((r) => entryOf(r, max)).sort((a, b) => (b.entries ?? -1) - (a.entries ?? -1) || a.key - b.key);
}

/** The node-wide figures and the top N namespaces by entries and by drops. */
export function buildNetnsReport(census: NetnsCensus, max: number | null, topN: number): NetnsReport {
  const byEntries = netnsEntries(census, max);
  const read = byEntries.filter((e) => e.entries !== null);
  const entries = read.length ? read.reduce((sum, e) => sum + e.entries!, 0) : null;
  const slab = census.slab;
  return {
    nodeWide: {
      entries,
      hostEntries: byEntries.find((e) => e.host)?.entries ?? null,
      namespaces: byEntries.length,
      namespacesUnread: byEntries.length - read.length,
      processesUnread: census.unreadableProcesses,
      max,
      slab: slab && {
        activeObjects: slab.activeObjects,
        objectSize: slab.objectSize,
        activeBytes: slab.activeObjects * slab.objectSize,
        notInEntries: entries === null ? null : slab.activeObjects - entries,
      },
      fullest: byEntries[0] !== undefined && byEntries[0].entries !== null ? byEntries[0] : null,
      topByDrops: byEntries
        .filter((e) => troubles(e) > 0)
        .sort((a, b) => (b.drop ?? 0) - (a.drop ?? 0) || troubles(b) - troubles(a) || a.key - b.key)
        .slice(0, topN),
    },
    netns: byEntries.slice(0, topN),
  };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A namespace as a reader finds it: its inode where known (lsns, kmsg), else a process in it. */
export const netnsName = (e: Pick<NetnsEntry, 'inode' | 'pid'>): string => (e.inode !== null ? String(e.inode) : `of pid ${e.pid}`);

function who(e: NetnsEntry): string {
  return e.host ? 'host' : e.pod ? `pod ${e.pod.uid}` : e.ours ? 'this namespace' : 'no pod';
}

/** The NAMESPACES block of the doctor's text report: a title and its lines. */
export function netnsSection({ nodeWide: w, netns }: NetnsReport): { title: string; lines: string[] } {
  const unread = w.processesUnread ? `; ${countText(w.processesUnread)} process(es) unreadable, their namespaces may be missing` : '';
  const lines = [
    `node-wide      ${countText(w.entries)} entries in all namespaces${w.namespacesUnread ? ` (${w.namespacesUnread} namespace(s) unread)` : ''}${w.hostEntries !== null ? `, ${countText(w.hostEntries)} of them in the host's` : ''}`,
    w.slab
      ? `slab           ${countText(w.slab.activeObjects)} active objects, ${mib(w.slab.activeBytes)} at ${w.slab.objectSize} B: an upper bound on live entries, not a count (freed entries stay until reused, SLAB_TYPESAFE_BY_RCU; namespaces without a process are not seen here)`
      : 'slab           not read (root only)',
  ];
  if (w.fullest) {
    lines.push(
      `fullest        netns ${netnsName(w.fullest)} (${who(w.fullest)}): ${countText(w.fullest.entries)} of ${countText(w.max)} max${w.fullest.usagePercent !== null ? ` (${w.fullest.usagePercent}%)` : ''}; each namespace may hold up to max of its own`,
    );
  }
  lines.push(`by entries     ${netns.length ? netns.map((e) => `${netnsName(e)} ${countText(e.entries)} (${who(e)})`).join(', ') : 'none'}`);
  lines.push(
    `by drops       ${
      w.topByDrops.length
        ? w.topByDrops
            .map((e) => `${netnsName(e)} drop ${countText(e.drop)} early_drop ${countText(e.earlyDrop)} insert_failed ${countText(e.insertFailed)} (${who(e)})`)
            .join(', ')
        : 'no namespace has dropped'
    }`,
  );
  return { title: `NAMESPACES (${countText(w.namespaces)} network namespaces with a process${unread})`, lines };
}

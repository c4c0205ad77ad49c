// The doctor's report as data: what `doctor --json` prints and what the text
// report renders. Pure: built from a host snapshot and a table summary.
import type { HostSnapshot } from '../kernel/snapshot.js';
import type { Unreadable } from '../kernel/unreadable.js';
import { KERNEL_DEFAULT_TIMEOUTS } from '../policy/sysctl-keys.js';
import { FALLBACK_SLAB_OBJECT_SIZE, tableBytes } from '../policy/sizing.js';
import type { DropWindow } from './drops.js';
import { buildFindings, chainLength, factsFrom, usagePercent, worstSeverity, type Severity } from './findings.js';
import type { FindingDoc } from '../api/v1alpha1/status.js';
import type { TableSummary } from '../kernel/table-summary.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { buildNetnsReport, type NetnsEntry, type NodeWide } from './netns-report.js';
import { netnsFindings } from './netns-findings.js';
import { fillWindow, type CensusReading, type FillWindow } from './fill-window.js';
import { compareText } from '../text-order.js';

interface TimeoutRow {
  key: string;
  seconds: number;
  kernelDefault: number | null;
}

export interface DoctorReport {
  kernel: {
    release: string | null;
    conntrackLoaded: boolean;
    hostNetworkNamespace: boolean | null;
    netnsInode: number | null;
    kubeProxyRunning: boolean;
  };
  table: {
    count: number | null;
    max: number | null;
    buckets: number | null;
    hashsize: number | null;
    usagePercent: number | null;
    chainLength: number | null;
    /** Where the breakdown came from: the /proc file, conntrack -L, or null (not read). */
    source: string | null;
  };
  memory: {
    memTotalBytes: number | null;
    slabObjectSize: number | null;
    /** True when the slab size could not be read and the fallback was used. */
    slabObjectSizeAssumed: boolean;
    /** max x slab object size + buckets x 8: what the table may take, unswappable. */
    bytesAtMax: number | null;
    percentOfRam: number | null;
  };
  /** Totals since boot, summed over CPUs: history. */
  counters: ({ source: string } & Record<string, number | string>) | null;
  /**
   * What happened over the sampling window: how the counters moved, drops
   * split by cause, and how fast the namespace nearest to full grew (its
   * namespaces read at both ends). Null when the counters were not sampled twice.
   */
  window: (DropWindow & FillWindow) | null;
  breakdown: TableSummary | null;
  /** Over every network namespace with a process; null when the census was not taken (conntrack not loaded). */
  nodeWide: NodeWide | null;
  /** The top N namespaces by entries. */
  netns: NetnsEntry[];
  timeouts: TimeoutRow[];
  findings: FindingDoc[];
  worstSeverity: Severity | null;
  /** What could not be read, and whether root would help. */
  unreadable: Unreadable[];
}

export interface DoctorInputs {
  snapshot: HostSnapshot;
  summary: TableSummary | null;
  tableSource: string | null;
  tableUnreadable: Unreadable[];
  /** The namespaces at the end of the window (the only reading without one). */
  census?: NetnsCensus | null;
  /** The namespaces at both ends of the window, for their growth; null or absent without a window. */
  censusWindow?: { before: CensusReading; after: CensusReading } | null;
  /** How many namespaces to list (--top). */
  topN?: number;
  window: DropWindow | null;
}

const round = (n: number | null, digits = 1): number | null => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

const NO_GROWTH: FillWindow = { growthPerSecond: null, secondsToFull: null, namespace: null };

export function buildDoctorReport({
  snapshot: s,
  summary,
  tableSource,
  tableUnreadable,
  census = null,
  censusWindow = null,
  topN = 10,
  window,
}: DoctorInputs): DoctorReport {
  const { count, max, buckets } = s.table;
  const slab = s.memory.slabObjectSize;
  const bytesAtMax = max !== null && buckets !== null ? tableBytes(max, buckets, slab ?? FALLBACK_SLAB_OBJECT_SIZE) : null;
  const c = s.stats.counters;
  const findings = [...buildFindings(factsFrom(s, summary, window)), ...(census ? netnsFindings(census, max) : [])];
  const netns = census ? buildNetnsReport(census, max, topN) : null;
  return {
    kernel: {
      release: s.kernelRelease,
      conntrackLoaded: s.moduleLoaded,
      hostNetworkNamespace: s.netns.host,
      netnsInode: s.netns.inode,
      kubeProxyRunning: s.kubeProxy?.running ?? false,
    },
    table: {
      count,
      max,
      buckets,
      hashsize: s.table.hashsize,
      usagePercent: round(usagePercent(count, max)),
      chainLength: round(chainLength(count, buckets), 2),
      source: tableSource,
    },
    memory: {
      memTotalBytes: s.memory.memTotalBytes,
      slabObjectSize: slab,
      slabObjectSizeAssumed: slab === null && bytesAtMax !== null,
      bytesAtMax,
      percentOfRam: bytesAtMax !== null && s.memory.memTotalBytes ? round((bytesAtMax / s.memory.memTotalBytes) * 100, 2) : null,
    },
    counters: c && s.stats.source ? { source: s.stats.source, ...definedOnly(c) } : null,
    window: window && { ...window, ...(censusWindow ? fillWindow(censusWindow.before, censusWindow.after, max) : NO_GROWTH) },
    breakdown: summary,
    nodeWide: netns?.nodeWide ?? null,
    netns: netns?.netns ?? [],
    timeouts: Object.entries(s.sysctls)
      .filter(([key]) => key.includes('_timeout'))
      .sort(([a], [b]) => compareText(a, b))
      .map(([key, seconds]) => ({ key, seconds, kernelDefault: KERNEL_DEFAULT_TIMEOUTS[key] ?? null })),
    findings,
    worstSeverity: worstSeverity(findings),
    unreadable: [...s.unreadable, ...tableUnreadable, ...(census?.unreadable ?? [])],
  };
}

function definedOnly(o: Record<string, number | undefined>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter((e): e is [string, number] => e[1] !== undefined));
}

/** doctor's exit code: 2 when a finding is critical. */
export function doctorExitCode(report: DoctorReport): number {
  return report.worstSeverity === 'critical' ? 2 : 0;
}

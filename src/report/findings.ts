// Findings: what a seasoned SRE would conclude from the numbers, each with
// what to change. Pure: the doctor and the agent's status both use it.
import type { HostSnapshot } from '../kernel/snapshot.js';
import { windowText, type DropWindow } from './drops.js';
import type { TableSummary } from '../kernel/table-summary.js';

export type Severity = 'info' | 'warning' | 'critical';

export interface Finding {
  id: string;
  severity: Severity;
  message: string;
  /** What to change, when there is something to change. */
  action?: string;
}

export interface FindingFacts {
  moduleLoaded: boolean;
  hostNetns: boolean | null;
  kubeProxyRunning: boolean;
  count: number | null;
  max: number | null;
  buckets: number | null;
  /** Totals since boot: history, never judged as "now". */
  sinceBoot: { drop: number; earlyDrop: number; insertFailed: number } | null;
  /** How the counters moved over the last window; null when only one sample exists. */
  window: DropWindow | null;
  /** Counters the drop findings need that this kernel's source did not print. */
  missingCounters: string[];
  /** Conntrack sysctls by file name, as read. */
  sysctls: Record<string, number>;
  /** From the table dump; null when it was not read (--no-table, or unreadable). */
  table: {
    total: number;
    tcp: number;
    timeWait: number;
    unreplied: number;
    loopback: number;
  } | null;
  pressure?: { warningPercent: number; criticalPercent: number };
}

export const DEFAULT_PRESSURE = { warningPercent: 70, criticalPercent: 90 };

/** The facts findings need, from a host snapshot, (when the table was read) its summary, and (when sampled twice) the counters' window. */
export function factsFrom(s: HostSnapshot, summary: TableSummary | null, window: DropWindow | null, pressure?: FindingFacts['pressure']): FindingFacts {
  const c = s.stats.counters;
  return {
    moduleLoaded: s.moduleLoaded,
    hostNetns: s.netns.host,
    kubeProxyRunning: s.kubeProxy?.running ?? false,
    count: s.table.count,
    max: s.table.max,
    buckets: s.table.buckets,
    sinceBoot: c ? { drop: c.drop ?? 0, earlyDrop: c.earlyDrop ?? 0, insertFailed: c.insertFailed ?? 0 } : null,
    window,
    missingCounters: s.stats.missing,
    sysctls: s.sysctls,
    table: summary
      ? {
          total: summary.total,
          tcp: summary.byProtocol['tcp'] ?? 0,
          timeWait: summary.tcpStates['TIME_WAIT'] ?? 0,
          unreplied: summary.flags.unreplied,
          loopback: summary.loopback.count,
        }
      : null,
    ...(pressure ? { pressure } : {}),
  };
}
const FIVE_DAYS = 432000;
/** Below this many entries, shares are noise (an idle host's three flows are not a "flood"). */
const MIN_ENTRIES_FOR_SHARES = 100;
const UNREPLIED_SHARE = 0.3;
const LOOPBACK_SHARE = 0.2;
const TIME_WAIT_SHARE = 0.5;
const MAX_CHAIN_LENGTH = 2;

const pct = (n: number) => `${(Math.round(n * 1000) / 10).toString()}%`;

/** Null when unknown, and when max is 0 (the kernel's "no limit") or a figure is negative (not a reading). */
export function usagePercent(count: number | null, max: number | null): number | null {
  return count === null || max === null || max <= 0 || count < 0 ? null : (count / max) * 100;
}

/** Average hash chain length: each entry is hashed twice (original and reply tuple). */
export function chainLength(count: number | null, buckets: number | null): number | null {
  return count === null || buckets === null || buckets === 0 ? null : (2 * count) / buckets;
}

export function buildFindings(f: FindingFacts): Finding[] {
  if (!f.moduleLoaded) {
    return [
      {
        id: 'conntrack-not-loaded',
        severity: 'info',
        message: 'nf_conntrack is not loaded: this host tracks no connections, so its table cannot fill. Nothing to do.',
      },
    ];
  }
  const out: Finding[] = [];
  const pressure = f.pressure ?? DEFAULT_PRESSURE;

  if (f.hostNetns === false) {
    out.push({
      id: 'not-host-netns',
      severity: 'info',
      message:
        'Not in the host network namespace: count, timeouts and the table shown are this namespace\'s own; nf_conntrack_max and buckets are global and read-only here.',
      action: 'Run on the host (or in a pod with hostNetwork: true) to see and change the node-wide values.',
    });
  } else if (f.hostNetns === null) {
    out.push({
      id: 'netns-unknown',
      severity: 'info',
      message: 'Could not tell whether this is the host network namespace (reading /proc/1/ns/net needs root).',
    });
  }

  const usage = usagePercent(f.count, f.max);
  if (usage !== null && usage >= pressure.criticalPercent) {
    out.push({
      id: 'usage-critical',
      severity: 'critical',
      message: `The table is ${pct(usage / 100)} full (${f.count} of ${f.max}): new connections are dropped when it reaches 100%.`,
      action: 'Track less (NOTRACK), lower the timeouts that hold most entries, or raise nf_conntrack_max.',
    });
  } else if (usage !== null && usage >= pressure.warningPercent) {
    out.push({
      id: 'usage-high',
      severity: 'warning',
      message: `The table is ${pct(usage / 100)} full (${f.count} of ${f.max}).`,
      action: 'See the breakdown for what holds the entries; plan NOTRACK, shorter timeouts or a larger table.',
    });
  }

  const chain = chainLength(f.count, f.buckets);
  if (chain !== null && chain > MAX_CHAIN_LENGTH) {
    out.push({
      id: 'long-hash-chains',
      severity: 'warning',
      message: `Average hash chain length is ${chain.toFixed(1)} (2 x ${f.count} entries / ${f.buckets} buckets): lookups walk long lists on every packet.`,
      action: `Raise the buckets to at least ${nextPowerOfTwo(f.count ?? 0)} (nf_conntrack_buckets or the hashsize module parameter).`,
    });
  }

  out.push(...dropFindings(f, usage));

  const established = f.sysctls['nf_conntrack_tcp_timeout_established'];
  if (established === FIVE_DAYS) {
    out.push({
      id: 'established-timeout-default',
      severity: 'warning',
      message: 'nf_conntrack_tcp_timeout_established is still the 5-day kernel default: flows whose peers vanished without FIN/RST stay for 5 days.',
      action: 'Lower it (e.g. 600-3600 s, above your longest idle keep-alive); see the idle counts in the breakdown.',
    });
  }

  const t = f.table;
  if (t && t.total >= MIN_ENTRIES_FOR_SHARES) {
    if (t.tcp > 0 && t.timeWait / t.tcp > TIME_WAIT_SHARE) {
      out.push({
        id: 'time-wait-heavy',
        severity: 'warning',
        message: `${pct(t.timeWait / t.tcp)} of TCP entries are TIME_WAIT (${t.timeWait} of ${t.tcp}): many short connections, e.g. a proxy to upstreams without keep-alive.`,
        action: 'Lower nf_conntrack_tcp_timeout_time_wait (e.g. 30 s), use keep-alive upstream, or NOTRACK loopback upstream traffic.',
      });
    }
    if (t.unreplied / t.total > UNREPLIED_SHARE) {
      out.push({
        id: 'unreplied-heavy',
        severity: 'warning',
        message: `${pct(t.unreplied / t.total)} of entries are UNREPLIED (${t.unreplied} of ${t.total}): a scan or flood, or UDP without answers.`,
        action: 'Lower nf_conntrack_udp_timeout and tcp syn_sent/syn_recv; these are the first evicted when full.',
      });
    }
    if (t.loopback / t.total > LOOPBACK_SHARE) {
      out.push({
        id: 'loopback-heavy',
        severity: 'info',
        message: `${pct(t.loopback / t.total)} of entries are loopback flows (${t.loopback} of ${t.total}): they need no NAT or stateful filtering.`,
        action: 'NOTRACK them: raw PREROUTING -i lo and raw OUTPUT -o lo (a notrack rule with interface: lo).',
      });
    }
  }

  if (f.kubeProxyRunning) {
    out.push({
      id: 'kube-proxy-present',
      severity: 'info',
      message:
        'kube-proxy runs here: at start it rewrites nf_conntrack_max (raised only), the hashsize, and the tcp established and close_wait timeouts from its own configuration.',
      action: 'Set the same values in kube-proxy\'s conntrack configuration, or expect them to show as drift after kube-proxy restarts.',
    });
  }
  return out;
}

/** Drops judged over the window, split by cause; since-boot totals only as history. */
function dropFindings(f: FindingFacts, usage: number | null): Finding[] {
  const out: Finding[] = [];
  const w = f.window;
  const fill = usage === null ? 'usage unknown' : `the table is ${pct(usage / 100)} full`;
  if (w && w.tableFull > 0) {
    out.push({
      id: 'table-full-drops',
      severity: 'critical',
      message: `The table is full: ${w.tableFull} packets of new connections were dropped ${windowText(w)} because no entry could be allocated (${fill}; "nf_conntrack: table full, dropping packet").`,
      action: 'Find what fills the table (breakdown below) and track less (NOTRACK), expire sooner (timeouts) or grow the table (nf_conntrack_max).',
    });
  }
  if (w && w.insertionRace > 0) {
    out.push({
      id: 'insertion-race-drops',
      severity: 'warning',
      message: `${w.insertionRace} packets were dropped ${windowText(w)} because two packets of one new flow raced to insert it and the kernel could not resolve the clash (drop and insert_failed rose together; ${fill}): the UDP/DNS race behind 5-second DNS lookups. A bigger table does not help.`,
      action:
        'NOTRACK DNS (udp and tcp port 53) to the node\'s resolver, as node-local DNS caches do, or set resolver options in pods: single-request-reopen (glibc, separate sockets for A and AAAA) or use-vc (DNS over TCP). Recent kernels resolve most such clashes (counted in clash_resolve): a kernel upgrade is the other fix.',
    });
  }
  if (w && w.earlyDrop > 0) {
    out.push({
      id: 'early-drops',
      severity: 'warning',
      message: `${w.earlyDrop} entries were evicted early ${windowText(w)} to make room: the table is at its limit.`,
      action: 'Usually UNREPLIED flows (scans, floods, UDP without answers); lower the udp and syn_sent timeouts or raise the max.',
    });
  }
  if (w && w.clashResolved !== null && w.clashResolved > 0) {
    out.push({
      id: 'clashes-resolved',
      severity: 'info',
      message: `The kernel resolved ${w.clashResolved} insertion races ${windowText(w)} (clash_resolve): packets of one new flow arrived together and none was dropped. Nothing to do.`,
    });
  }
  const b = f.sinceBoot;
  if (b && (b.drop > 0 || b.earlyDrop > 0)) {
    out.push({
      id: 'drops-since-boot',
      severity: 'info',
      message: `History: since boot the kernel dropped ${b.drop} packets of new connections (${b.insertFailed} insert_failed, ${b.earlyDrop} early drops). ${w ? `Judged above ${windowText(w)}, not from these totals.` : 'Only one sample was taken: whether it happens now is not known yet.'}`,
    });
  }
  if (f.missingCounters.length) {
    out.push({
      id: 'counters-missing',
      severity: 'warning',
      message: `This kernel's conntrack statistics have no ${f.missingCounters.join(', ')} column: a full table or an insertion race cannot be told apart or alerted on here.`,
    });
  }
  return out;
}

export function worstSeverity(findings: Finding[]): Severity | null {
  const order: Severity[] = ['critical', 'warning', 'info'];
  return order.find((s) => findings.some((f) => f.severity === s)) ?? null;
}

function nextPowerOfTwo(n: number): number {
  let p = 1024;
  while (p < n) p *= 2;
  return p;
}

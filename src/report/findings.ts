// Findings: what a seasoned SRE would conclude from the numbers, each with
// what to change. Pure: the doctor and the agent's status both use it.
import { DEFAULT_PRESSURE } from '../api/v1alpha1/policy-rules.js';
import type { HostSnapshot } from '../kernel/snapshot.js';
import { windowText, type DropWindow } from './drops.js';
import type { TableSummary } from '../kernel/table-summary.js';
import type { FindingDoc } from '../api/v1alpha1/status.js';

/** How serious a finding is: status.findings[].severity, the doctor's exit code. */
export type Severity = FindingDoc['severity'];

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

/** What a rule found: a finding without its id, which the rule gives. */
type Found = Omit<FindingDoc, 'id'>;

/** One conclusion the numbers may call for: `check` returns it when they do, nothing otherwise. */
export interface FindingRule<Facts = FindingFacts> {
  id: string;
  check: (facts: Facts) => Found | undefined;
}

/** Every rule's finding for these facts, in the rules' order. */
export function applyRules<Facts>(rules: readonly FindingRule<Facts>[], facts: Facts): FindingDoc[] {
  return rules.flatMap((rule) => {
    const found = rule.check(facts);
    return found ? [{ id: rule.id, ...found }] : [];
  });
}

const pressureOf = (f: FindingFacts) => f.pressure ?? DEFAULT_PRESSURE;
const usageOf = (f: FindingFacts) => usagePercent(f.count, f.max);

/** How full the table is, as the drop findings put it. */
function fillText(f: FindingFacts): string {
  const usage = usageOf(f);
  return usage === null ? 'usage unknown' : `the table is ${pct(usage / 100)} full`;
}

/** The table's counts, when it holds enough entries for shares of it to mean something. */
function sharesOf(f: FindingFacts): FindingFacts['table'] {
  return f.table && f.table.total >= MIN_ENTRIES_FOR_SHARES ? f.table : null;
}

/** Without the module nothing else can be said: this rule alone applies then. */
export const CONNTRACK_NOT_LOADED: FindingRule = {
  id: 'conntrack-not-loaded',
  check: (f) =>
    f.moduleLoaded
      ? undefined
      : { severity: 'info', message: 'nf_conntrack is not loaded: this host tracks no connections, so its table cannot fill. Nothing to do.' },
};

/** The rules for a host with nf_conntrack loaded, in the order their findings are listed. */
export const FINDING_RULES: readonly FindingRule[] = [
  {
    id: 'not-host-netns',
    check: (f) =>
      f.hostNetns === false
        ? {
            severity: 'info',
            message:
              "Not in the host network namespace: count, timeouts and the table shown are this namespace's own; nf_conntrack_max and buckets are global and read-only here.",
            action: 'Run on the host (or in a pod with hostNetwork: true) to see and change the node-wide values.',
          }
        : undefined,
  },
  {
    id: 'netns-unknown',
    check: (f) =>
      f.hostNetns === null
        ? { severity: 'info', message: 'Could not tell whether this is the host network namespace (reading /proc/1/ns/net needs root).' }
        : undefined,
  },
  {
    id: 'usage-critical',
    check: (f) => {
      const usage = usageOf(f);
      return usage !== null && usage >= pressureOf(f).criticalPercent
        ? {
            severity: 'critical',
            message: `The table is ${pct(usage / 100)} full (${f.count} of ${f.max}): new connections are dropped when it reaches 100%.`,
            action: 'Track less (NOTRACK), lower the timeouts that hold most entries, or raise nf_conntrack_max.',
          }
        : undefined;
    },
  },
  {
    id: 'usage-high',
    check: (f) => {
      const usage = usageOf(f);
      const { warningPercent, criticalPercent } = pressureOf(f);
      // Below critical: usage-critical says it otherwise.
      return usage !== null && usage >= warningPercent && usage < criticalPercent
        ? {
            severity: 'warning',
            message: `The table is ${pct(usage / 100)} full (${f.count} of ${f.max}).`,
            action: 'See the breakdown for what holds the entries; plan NOTRACK, shorter timeouts or a larger table.',
          }
        : undefined;
    },
  },
  {
    id: 'long-hash-chains',
    check: (f) => {
      const chain = chainLength(f.count, f.buckets);
      return chain !== null && chain > MAX_CHAIN_LENGTH
        ? {
            severity: 'warning',
            message: `Average hash chain length is ${chain.toFixed(1)} (2 x ${f.count} entries / ${f.buckets} buckets): lookups walk long lists on every packet.`,
            action: `Raise the buckets to at least ${nextPowerOfTwo(f.count ?? 0)} (nf_conntrack_buckets or the hashsize module parameter).`,
          }
        : undefined;
    },
  },
  // Drops are judged over the window, split by cause; the since-boot totals are history only.
  {
    id: 'table-full-drops',
    check: (f) => {
      const w = f.window;
      return w && w.tableFull > 0
        ? {
            severity: 'critical',
            message: `The table is full: ${w.tableFull} packets of new connections were dropped ${windowText(w)} because no entry could be allocated (${fillText(f)}; "nf_conntrack: table full, dropping packet").`,
            action: 'Find what fills the table (breakdown below) and track less (NOTRACK), expire sooner (timeouts) or grow the table (nf_conntrack_max).',
          }
        : undefined;
    },
  },
  {
    id: 'insertion-race-drops',
    check: (f) => {
      const w = f.window;
      return w && w.insertionRace > 0
        ? {
            severity: 'warning',
            message: `${w.insertionRace} packets were dropped ${windowText(w)} because two packets of one new flow raced to insert it and the kernel could not resolve the clash (drop and insert_failed rose together; ${fillText(f)}): the UDP/DNS race behind 5-second DNS lookups. A bigger table does not help.`,
            action:
              "NOTRACK DNS (udp and tcp port 53) to the node's resolver, as node-local DNS caches do, or set resolver options in pods: single-request-reopen (glibc, separate sockets for A and AAAA) or use-vc (DNS over TCP). Recent kernels resolve most such clashes (counted in clash_resolve): a kernel upgrade is the other fix.",
          }
        : undefined;
    },
  },
  {
    id: 'early-drops',
    check: ({ window: w }) =>
      w && w.earlyDrop > 0
        ? {
            severity: 'warning',
            message: `${w.earlyDrop} entries were evicted early ${windowText(w)} to make room: the table is at its limit.`,
            action: 'Usually UNREPLIED flows (scans, floods, UDP without answers); lower the udp and syn_sent timeouts or raise the max.',
          }
        : undefined,
  },
  {
    id: 'clashes-resolved',
    check: ({ window: w }) =>
      w && w.clashResolved !== null && w.clashResolved > 0
        ? {
            severity: 'info',
            message: `The kernel resolved ${w.clashResolved} insertion races ${windowText(w)} (clash_resolve): packets of one new flow arrived together and none was dropped. Nothing to do.`,
          }
        : undefined,
  },
  {
    id: 'drops-since-boot',
    check: ({ sinceBoot: b, window: w }) =>
      b && (b.drop > 0 || b.earlyDrop > 0)
        ? {
            severity: 'info',
            message: `History: since boot the kernel dropped ${b.drop} packets of new connections (${b.insertFailed} insert_failed, ${b.earlyDrop} early drops). ${w ? `Judged above ${windowText(w)}, not from these totals.` : 'Only one sample was taken: whether it happens now is not known yet.'}`,
          }
        : undefined,
  },
  {
    id: 'counters-missing',
    check: ({ missingCounters }) =>
      missingCounters.length
        ? {
            severity: 'warning',
            message: `This kernel's conntrack statistics have no ${missingCounters.join(', ')} column: a full table or an insertion race cannot be told apart or alerted on here.`,
          }
        : undefined,
  },
  {
    id: 'established-timeout-default',
    check: ({ sysctls }) =>
      sysctls['nf_conntrack_tcp_timeout_established'] === FIVE_DAYS
        ? {
            severity: 'warning',
            message: 'nf_conntrack_tcp_timeout_established is still the 5-day kernel default: flows whose peers vanished without FIN/RST stay for 5 days.',
            action: 'Lower it (e.g. 600-3600 s, above your longest idle keep-alive); see the idle counts in the breakdown.',
          }
        : undefined,
  },
  {
    id: 'time-wait-heavy',
    check: (f) => {
      const t = sharesOf(f);
      return t && t.tcp > 0 && t.timeWait / t.tcp > TIME_WAIT_SHARE
        ? {
            severity: 'warning',
            message: `${pct(t.timeWait / t.tcp)} of TCP entries are TIME_WAIT (${t.timeWait} of ${t.tcp}): many short connections, e.g. a proxy to upstreams without keep-alive.`,
            action: 'Lower nf_conntrack_tcp_timeout_time_wait (e.g. 30 s), use keep-alive upstream, or NOTRACK loopback upstream traffic.',
          }
        : undefined;
    },
  },
  {
    id: 'unreplied-heavy',
    check: (f) => {
      const t = sharesOf(f);
      return t && t.unreplied / t.total > UNREPLIED_SHARE
        ? {
            severity: 'warning',
            message: `${pct(t.unreplied / t.total)} of entries are UNREPLIED (${t.unreplied} of ${t.total}): a scan or flood, or UDP without answers.`,
            action: 'Lower nf_conntrack_udp_timeout and tcp syn_sent/syn_recv; these are the first evicted when full.',
          }
        : undefined;
    },
  },
  {
    id: 'loopback-heavy',
    check: (f) => {
      const t = sharesOf(f);
      return t && t.loopback / t.total > LOOPBACK_SHARE
        ? {
            severity: 'info',
            message: `${pct(t.loopback / t.total)} of entries are loopback flows (${t.loopback} of ${t.total}): they need no NAT or stateful filtering.`,
            action: 'NOTRACK them: raw PREROUTING -i lo and raw OUTPUT -o lo (a notrack rule with interface: lo).',
          }
        : undefined;
    },
  },
  {
    id: 'kube-proxy-present',
    check: (f) =>
      f.kubeProxyRunning
        ? {
            severity: 'info',
            message:
              'kube-proxy runs here: at start it rewrites nf_conntrack_max (raised only), the hashsize, and the tcp established and close_wait timeouts from its own configuration.',
            action: "Set the same values in kube-proxy's conntrack configuration, or expect them to show as drift after kube-proxy restarts.",
          }
        : undefined,
  },
];

export function buildFindings(f: FindingFacts): FindingDoc[] {
  return applyRules(f.moduleLoaded ? FINDING_RULES : [CONNTRACK_NOT_LOADED], f);
}

export function worstSeverity(findings: FindingDoc[]): Severity | null {
  const order: Severity[] = ['critical', 'warning', 'info'];
  return order.find((s) => findings.some((f) => f.severity === s)) ?? null;
}

function nextPowerOfTwo(n: number): number {
  let p = 1024;
  while (p < n) p *= 2;
  return p;
}

// A streaming summary of the conntrack table: what the field notes get with
// `conntrack -L | awk`, plus the numbers that say which timeout to lower.
// Pure: it takes entries one at a time (from src/kernel/table-stream.ts) and
// keeps bounded memory whatever the table size.
import { HeavyHitters } from './top-k.js';

/** The fields of a parsed table entry the summary needs (src/kernel/entry-parser.ts ConntrackEntry has them). */
export interface SummaryEntry {
  l3: string;
  l4: string;
  /** Seconds left before the entry expires. */
  timeout: number;
  state: string | null;
  orig: { src: string; dst: string };
  flags: { assured: boolean; unreplied: boolean };
}

export interface SummaryOptions {
  /** The conntrack sysctls by file name (nf_conntrack_tcp_timeout_established, ...): the timeout each TCP state started from. */
  sysctls: Record<string, number>;
  /** How many top sources and destinations to report. Default 10. */
  topN?: number;
  /** Distinct addresses counted exactly before the heavy-hitter sketch takes over. Default 2,048. */
  exactKeys?: number;
  /** Counters the sketch keeps once it took over: every address with more than entries / sketchKeys entries is reported, counts over by at most that. Default 1,024. */
  sketchKeys?: number;
  /** Candidate lower timeouts in seconds; for each state only those below its current timeout are used. */
  candidateTimeouts?: number[];
}

export interface TopAddress {
  address: string;
  count: number;
}

interface TopAccuracy {
  exact: boolean;
  /** Largest possible over-count of a reported count (0 when exact). */
  errorBound: number;
}

interface IdleUnderTimeouts {
  /** The current timeout of the state (from the sysctl). */
  timeoutSeconds: number;
  entries: number;
  /** Entries idle longer than `seconds`: those a timeout of `seconds` would already have expired. */
  idleLongerThan: Array<{ seconds: number; count: number }>;
}

export interface TableSummary {
  total: number;
  byL3: Record<string, number>;
  /** L4 protocol name -> entries. */
  byProtocol: Record<string, number>;
  /** TCP state -> entries. */
  tcpStates: Record<string, number>;
  flags: { assured: number; unreplied: number };
  /** Flows with 127.0.0.0/8 or ::1 on either side of the original direction: NOTRACK candidates. */
  loopback: { count: number; share: number };
  topSources: TopAddress[];
  topDestinations: TopAddress[];
  topAccuracy: { sources: TopAccuracy; destinations: TopAccuracy };
  /** Per TCP state with a known timeout: how many entries lower timeouts would already have removed. */
  idleByTcpState: Record<string, IdleUnderTimeouts>;
}

const DEFAULT_TOP_N = 10;
// Small on purpose: every exactly counted address outlives V8's young
// generation, and that survival makes V8 grow the young generation and the heap
// limit: at 50,000 exact keys a 200k-entry table cost the doctor and the agent
// about 45 MB more peak RSS than at 2,048 (which costs nothing over parsing).
// Past it the sketch's counts carry their error bound, reported.
const DEFAULT_EXACT_KEYS = 2_048;
const DEFAULT_SKETCH_KEYS = 1_024;
const DEFAULT_CANDIDATE_TIMEOUTS = [10, 30, 60, 120, 300, 600, 3600, 86400];

/** The sysctl holding the timeout a TCP state starts from. SYN_SENT2 (simultaneous open) uses syn_sent's. */
export function tcpTimeoutKey(state: string): string {
  const name = state === 'SYN_SENT2' ? 'syn_sent' : state.toLowerCase();
  return `nf_conntrack_tcp_timeout_${name}`;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1';
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

interface IdleCounter {
  timeoutSeconds: number;
  candidates: number[];
  counts: number[];
  entries: number;
}

export class TableSummarizer {
  private total = 0;
  private readonly byL3 = new Map<string, number>();
  private readonly byProtocol = new Map<string, number>();
  private readonly tcpStates = new Map<string, number>();
  private assured = 0;
  private unreplied = 0;
  private loopback = 0;
  private readonly sources: HeavyHitters;
  private readonly destinations: HeavyHitters;
  // null: a state whose timeout this kernel does not expose (no idle figures for it).
  private readonly idle = new Map<string, IdleCounter | null>();
  private readonly topN: number;
  private readonly candidates: number[];

  constructor(private readonly options: SummaryOptions) {
    this.topN = options.topN ?? DEFAULT_TOP_N;
    if (!Number.isInteger(this.topN) || this.topN < 0) throw new Error(`topN: want a non-negative integer, got ${options.topN}`);
    const sizes = { exactKeys: options.exactKeys ?? DEFAULT_EXACT_KEYS, sketchKeys: options.sketchKeys ?? DEFAULT_SKETCH_KEYS };
    this.sources = new HeavyHitters(sizes);
    this.destinations = new HeavyHitters(sizes);
    this.candidates = [...(options.candidateTimeouts ?? DEFAULT_CANDIDATE_TIMEOUTS)].sort((a, b) => a - b);
  }

  add(entry: SummaryEntry): void {
    this.total++;
    increment(this.byL3, entry.l3);
    increment(this.byProtocol, entry.l4);
    if (entry.flags.assured) this.assured++;
    if (entry.flags.unreplied) this.unreplied++;
    const { src, dst } = entry.orig;
    if (isLoopback(src) || isLoopback(dst)) this.loopback++;
    this.sources.add(src);
    this.destinations.add(dst);
    if (entry.l4 === 'tcp' && entry.state !== null) {
      increment(this.tcpStates, entry.state);
      this.countIdle(entry.state, entry.timeout);
    }
  }

  result(): TableSummary {
    const src = this.sources.top(this.topN);
    const dst = this.destinations.top(this.topN);
    const idleByTcpState: Record<string, IdleUnderTimeouts> = {};
    for (const [state, c] of [...this.idle].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (c === null) continue;
      idleByTcpState[state] = {
        timeoutSeconds: c.timeoutSeconds,
        entries: c.entries,
        idleLongerThan: c.candidates.map((seconds, i) => ({ seconds, count: c.counts[i]! })),
      };
    }
    return {
      total: this.total,
      byL3: Object.fromEntries(this.byL3),
      byProtocol: Object.fromEntries(this.byProtocol),
      tcpStates: Object.fromEntries(this.tcpStates),
      flags: { assured: this.assured, unreplied: this.unreplied },
      loopback: { count: this.loopback, share: this.total === 0 ? 0 : this.loopback / this.total },
      topSources: src.items.map((i) => ({ address: i.key, count: i.count })),
      topDestinations: dst.items.map((i) => ({ address: i.key, count: i.count })),
      topAccuracy: {
        sources: { exact: src.exact, errorBound: src.errorBound },
        destinations: { exact: dst.exact, errorBound: dst.errorBound },
      },
      idleByTcpState,
    };
  }

  /**
   * An entry's idle time is the state's timeout minus the seconds left: the
   * kernel re-arms the timer on every packet. An estimate: it assumes the
   * sysctl has not changed since the last packet, and entries the kernel put
   * on a shorter timer (unacknowledged data, retransmits) look idler than they are.
   */
  private countIdle(state: string, remaining: number): void {
    let c = this.idle.get(state);
    if (c === undefined) {
      c = this.newIdleCounter(state);
      this.idle.set(state, c);
    }
    if (c === null) return;
    c.entries++;
    const idle = c.timeoutSeconds - remaining;
    for (let i = 0; i < c.candidates.length && idle > c.candidates[i]!; i++) c.counts[i]!++;
  }

  private newIdleCounter(state: string): IdleCounter | null {
    const timeoutSeconds = this.options.sysctls[tcpTimeoutKey(state)];
    if (timeoutSeconds === undefined) return null;
    const candidates = this.candidates.filter((s) => s < timeoutSeconds);
    return { timeoutSeconds, candidates, counts: candidates.map(() => 0), entries: 0 };
  }
}

/** Summarise a whole table read in batches (src/kernel/table-stream.ts TableStream.batches). */
export async function summarizeBatches(batches: AsyncIterable<readonly SummaryEntry[]>, options: SummaryOptions): Promise<TableSummary> {
  const summarizer = new TableSummarizer(options);
  for await (const batch of batches) for (const entry of batch) summarizer.add(entry);
  return summarizer.result();
}

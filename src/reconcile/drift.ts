// Pure drift detection: where the node no longer matches what was applied, who
// likely changed it, and a guard that stops us fighting another writer forever.
import { kubeProxyWrites } from '../policy/sysctl-keys.js';
import type { DesiredState } from '../policy/types.js';
import type { ObservedState } from '../kernel/observed-state.js';
import type { NotrackCheck } from '../kernel/notrack/backend.js';
import { BUCKETS_KEY, bucketsMatch, NOTRACK_KEY } from './planner.js';
import type { Clock } from '../clock.js';

export type LikelyWriter = 'kube-proxy' | 'sysctl.d' | 'unknown';

export interface DriftRecord {
  key: string;
  desired: number;
  /** For NOTRACK_KEY: rule counts (desired = what we want, actual = what we own now). */
  actual: number;
  /** ISO time the drift was first seen; kept while it persists. */
  since: string;
  likelyWriter?: LikelyWriter;
  /** True when corrections stopped: another writer keeps changing it back. */
  fighting?: boolean;
}

/** What the caller found out about other writers on this node. */
export interface WriterFacts {
  kubeProxyRunning: boolean;
  /** Keys set in the host's /etc/sysctl.d (re-applied at boot). */
  sysctlDKeys?: readonly string[];
}

export function likelyWriter(key: string, facts: WriterFacts): LikelyWriter {
  if (facts.kubeProxyRunning && (key === BUCKETS_KEY || kubeProxyWrites(key))) return 'kube-proxy';
  if (facts.sysctlDKeys?.includes(`net.netfilter.${key}`) || facts.sysctlDKeys?.includes(key)) return 'sysctl.d';
  return 'unknown';
}

export interface DriftInput {
  desired: DesiredState;
  observed: ObservedState;
  notrack: NotrackCheck | null;
  previous: readonly DriftRecord[];
  facts: WriterFacts;
  now: number;
  /** Only these keys count (e.g. the ones we applied before); all desired keys when undefined. */
  keys?: ReadonlySet<string>;
}

function differences(desired: DesiredState, observed: ObservedState, notrack: NotrackCheck | null): Array<{ key: string; desired: number; actual: number }> {
  const out: Array<{ key: string; desired: number; actual: number }> = [];
  for (const [key, want] of Object.entries(desired.sysctls)) {
    const seen = observed.sysctls[key];
    if (seen && seen.value !== want) out.push({ key, desired: want, actual: seen.value });
  }
  const buckets = observed.buckets;
  if (desired.buckets !== undefined && buckets && !bucketsMatch(desired.buckets, buckets.value)) {
    out.push({ key: BUCKETS_KEY, desired: desired.buckets, actual: buckets.value });
  }
  if (notrack && !notrack.inSync && (desired.notrack.length > 0 || desired.acceptUntracked)) {
    const wanted = notrack.ownedRules - notrack.extra.length + notrack.missing.length;
    out.push({ key: NOTRACK_KEY, desired: wanted, actual: notrack.ownedRules });
  }
  return out;
}

/** Drift records for this observation; `since` carries over from the previous record of a key while it persists. */
export function detectDrift(input: DriftInput): DriftRecord[] {
  const previous = new Map(input.previous.map((r) => [r.key, r]));
  return differences(input.desired, input.observed, input.notrack)
    .filter((d) => input.keys === undefined || input.keys.has(d.key))
    .map((d) => {
      const before = previous.get(d.key);
      const since = before && before.desired === d.desired ? before.since : new Date(input.now).toISOString();
      return { ...d, since, likelyWriter: likelyWriter(d.key, input.facts) };
    });
}

export interface GuardOptions {
  /** Corrections of one key allowed within the window (default 3). */
  maxCorrections?: number;
  /** Window in ms (default 10 minutes). */
  windowMs?: number;
  clock: Clock;
}

/**
 * Anti-flapping: after maxCorrections of the same key within windowMs, stop
 * correcting it (another writer keeps winning) until the oldest of those
 * corrections leaves the window or the desired value changes.
 */
export class CorrectionGuard {
  private readonly max: number;
  private readonly windowMs: number;
  private readonly history = new Map<string, { desired: number; times: number[] }>();

  constructor(private readonly options: GuardOptions) {
    this.max = options.maxCorrections ?? 3;
    this.windowMs = options.windowMs ?? 10 * 60_000;
  }

  /** True when we should leave `key` alone for now. */
  fighting(key: string, desired: number): boolean {
    const entry = this.history.get(key);
    return entry !== undefined && entry.desired === desired && this.recent(entry.times).length >= this.max;
  }

  recordCorrection(key: string, desired: number): void {
    const entry = this.history.get(key);
    const times = entry && entry.desired === desired ? this.recent(entry.times) : [];
    this.history.set(key, { desired, times: [...times, this.options.clock()] });
  }

  private recent(times: number[]): number[] {
    const now = this.options.clock();
    return times.filter((t) => now - t < this.windowMs);
  }
}

// Exponential backoff with jitter, per key, as client-go spaces its retries:
// workqueue's ItemExponentialFailureRateLimiter for a controller's items
// (forgotten on success), apimachinery's wait.Backoff and the reflector's
// backoff manager for list/watch (jittered, and started over after a quiet
// spell). Pure: the clock and the random source come from the caller, so a
// test can replay an exact sequence.
import type { Clock } from './clock.js';

export interface BackoffPolicy {
  /** The delay after a key's first failure; each further failure doubles it. */
  initialMs: number;
  /** The doubling stops here. As wait.Backoff, the cap applies before the jitter. */
  maxMs: number;
  /** Each delay d becomes d + random() * jitter * d (wait.Jitter): 1.0 spreads it over [d, 2d). */
  jitter: number;
  /** A key whose last failure is older than this starts over at initialMs (client-go's reflector: 2 min). */
  resetAfterMs?: number;
}

export class Backoff<K = string> {
  private readonly failures = new Map<K, { count: number; at: number }>();

  constructor(
    private readonly policy: BackoffPolicy,
    private readonly now: Clock,
    /** Uniform in [0, 1), as Math.random. */
    private readonly random: () => number,
  ) {}

  /** Records a failure of key; returns how long to wait before trying it again. */
  next(key: K): number {
    const now = this.now();
    const last = this.failures.get(key);
    const stale = last !== undefined && this.policy.resetAfterMs !== undefined && now - last.at > this.policy.resetAfterMs;
    const count = last && !stale ? last.count : 0;
    this.failures.set(key, { count: count + 1, at: now });
    const base = Math.min(this.policy.initialMs * 2 ** count, this.policy.maxMs);
    return Math.round(base + this.random() * this.policy.jitter * base);
  }

  /** The key succeeded: its next failure starts over. */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** Failures of key in a row (workqueue's NumRequeues). */
  failureCount(key: K): number {
    return this.failures.get(key)?.count ?? 0;
  }
}

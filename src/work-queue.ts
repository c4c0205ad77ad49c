// A small per-key work queue, as client-go's workqueue drives a
// controller-runtime controller: a key added while it waits is not added
// twice; a key added while its reconcile runs runs once more right after
// (never two reconciles of one key at once); a reconcile that throws is
// retried with per-key exponential backoff (backoff.ts), forgotten when it
// succeeds; a reconcile may ask to run again after a while (requeueAfterMs).
// No I/O: the clock, the timers and the random source are handed in, so a
// test drives it on a fake clock.
import { Backoff, type BackoffPolicy } from './backoff.js';
import { systemClock, type Clock } from './clock.js';

/** What a reconcile returns: when to run the key again, if it should be. */
export interface QueueRunResult {
  requeueAfterMs?: number;
}

/** Reconciles one key; the signal aborts when the queue shuts down. Throwing retries the key with backoff. */
export type Reconcile<K> = (key: K, signal: AbortSignal) => Promise<QueueRunResult>;

/** The clock, and the timers and random source that go with it (a fake moves them together). */
export interface QueueClock {
  now: Clock;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Uniform in [0, 1), as Math.random: the backoff's jitter. */
  random(): number;
}

export const realQueueClock: QueueClock = {
  now: systemClock,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
  random: Math.random,
};

export interface WorkQueueOptions<K> {
  backoff: BackoffPolicy;
  /** Keys reconciled at once (controller-runtime's MaxConcurrentReconciles); one key never runs twice at once. Default 1. */
  workers?: number;
  /** A reconcile threw; it runs again in retryInMs. */
  onError(key: K, err: unknown, retryInMs: number): void;
}

export class WorkQueue<K> {
  /** Keys ready to run, oldest first. */
  private readonly ready: K[] = [];
  /** Keys added and not started yet (ready, or waiting for their own run to end). */
  private readonly dirty = new Set<K>();
  private readonly running = new Map<K, Promise<void>>();
  /** Keys due later: when, and the timer that adds them. */
  private readonly waiting = new Map<K, { at: number; timer: unknown }>();
  private readonly backoff: Backoff<K>;
  private readonly aborter = new AbortController();
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private pumpScheduled = false;

  constructor(
    private readonly reconcile: Reconcile<K>,
    private readonly opts: WorkQueueOptions<K>,
    private readonly clock: QueueClock = realQueueClock,
  ) {
    this.backoff = new Backoff<K>(
      opts.backoff,
      () => clock.now(),
      () => clock.random(),
    );
  }

  /** Run key as soon as a worker is free; a key already added is not added twice. */
  add(key: K): void {
    if (this.stopped || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (!this.running.has(key)) this.ready.push(key);
    this.schedulePump();
  }

  /** Run key in ms, unless it is due sooner already. A run of the key meanwhile replaces this one. */
  addAfter(key: K, ms: number): void {
    if (this.stopped || this.dirty.has(key)) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const current = this.waiting.get(key);
    if (current && current.at <= at) return;
    this.cancelWait(key);
    const timer = this.clock.setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { at, timer });
  }

  /** Failures of key in a row (client-go's NumRequeues). */
  failures(key: K): number {
    return this.backoff.failureCount(key);
  }

  /** Resolves when no key runs and none is ready (keys due later do not count). */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.ready.length === 0 && !this.pumpScheduled) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Take no more keys, abort the reconciles' signal, and resolve once the ones running have finished. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const key of [...this.waiting.keys()]) this.cancelWait(key);
    this.ready.length = 0;
    this.dirty.clear();
    this.aborter.abort();
    await Promise.all(this.running.values());
  }

  private cancelWait(key: K): void {
    const current = this.waiting.get(key);
    if (!current) return;
    this.clock.clearTimeout(current.timer);
    this.waiting.delete(key);
  }

  /** Start keys after the current task: adds in one burst (a relist, a fan-out to every key) are deduped first. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.stopped && this.running.size < (this.opts.workers ?? 1) && this.ready.length > 0) {
      const key = this.ready.shift()!;
      this.dirty.delete(key);
      this.cancelWait(key); // this run is the one it waited for
      this.running.set(key, this.run(key));
    }
    if (this.running.size === 0 && this.ready.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async run(key: K): Promise<void> {
    await Promise.resolve(); // pump() records the run before it can end
    try {
      const result = await this.reconcile(key, this.aborter.signal);
      this.backoff.forget(key);
      if (result.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      if (!this.stopped) {
        const delay = this.backoff.next(key);
        this.opts.onError(key, err, delay);
        this.addAfter(key, delay);
      }
    } finally {
      this.running.delete(key);
      if (this.dirty.has(key)) this.ready.push(key); // added while it ran: once more
      this.pump();
    }
  }
}

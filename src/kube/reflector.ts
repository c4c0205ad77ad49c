// client-go's reflector, small: list, then watch from the list's
// resourceVersion; keep a store by name; recover by itself.
// - a watch that ends (server timeout, cut stream) resumes from the last
//   resourceVersion seen (bookmarks keep it fresh);
// - 410 Gone (as an ERROR event or a status) means the resourceVersion is too
//   old: relist;
// - any other failure: back off and relist. As client-go's backoff manager:
//   doubling, capped, jittered (a fleet of agents that lost the apiserver
//   together must not relist in lockstep when it returns), and started over
//   only after a quiet spell, not on the next good list (a list that works
//   while every watch fails must not retry at the initial delay forever);
// - a periodic resync relists anyway, so a missed event cannot last.
// Lists ask for a resourceVersion as client-go's relistResourceVersion() does,
// so the apiserver answers from its watch cache rather than etcd: "0" first,
// then the last synced one (not older than). Only a list refused as unavailable
// (410, or 504 "Too large resource version" from a cache behind it) falls back
// to "" (a consistent read), at once and until a list succeeds; a watch's 410
// does not: a list not older than an expired resourceVersion is still served.

import { Backoff } from '../backoff.js';
import { systemClock, type Clock } from '../clock.js';
import { apiStatus, errorText, statusCode } from '../errors.js';
import type { Log } from '../logger.js';

export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface ListWatch<T extends KubeObject> {
  /** List at resourceVersion: "0" any, "" consistent (quorum) read, else not older than it. */
  list(resourceVersion: string): Promise<{ items: T[]; resourceVersion: string }>;
  /** Start a watch; resolves with a handle once the request is open. done(err) fires once when it ends. */
  watch(resourceVersion: string, onEvent: (type: WatchEventType, obj: unknown) => void, done: (err?: unknown) => void): Promise<{ abort(): void }>;
}

export interface ReflectorTiming {
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Each backoff delay d is stretched at random to [d, d + jitter * d). */
  backoffJitter: number;
  /** After this long without a failure, the backoff starts over. */
  backoffResetMs: number;
  resyncMs: number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  now: Clock;
  /** Uniform in [0, 1): the jitter's source. */
  random(): number;
}

class GoneError extends Error {}

const QUICK_END_MS = 1000;

export class Reflector<T extends KubeObject> {
  readonly store = new Map<string, T>();
  private readonly stopper = new AbortController();
  private running: Promise<void> | null = null;
  private currentWatch: { abort(): void } | null = null;
  /** Counts for tests and the benchmark: how often we listed and watched. */
  readonly stats = { lists: 0, watches: 0, relistsOnGone: 0, errors: 0 };
  /** True once a list has succeeded: the store reflects the API, not just nothing yet. */
  hasSynced = false;
  /** The resourceVersion the store reflects: of the last list, watch event or bookmark. */
  private lastSyncRv = '';
  /** The last list at lastSyncRv was refused as unavailable: list with "" until a list succeeds. */
  private lastSyncRvUnavailable = false;
  private readonly backoff: Backoff<'relist'>;

  constructor(
    private readonly lw: ListWatch<T>,
    private readonly onChange: (store: ReadonlyMap<string, T>) => void,
    private readonly timing: ReflectorTiming,
    private readonly log: Log,
  ) {
    const policy = { initialMs: timing.backoffInitialMs, maxMs: timing.backoffMaxMs, jitter: timing.backoffJitter, resetAfterMs: timing.backoffResetMs };
    this.backoff = new Backoff(policy, timing.now, timing.random);
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.currentWatch?.abort();
    await this.running;
  }

  private async run(): Promise<void> {
    const signal = this.stopper.signal;
    const now = () => this.timing.now();
    while (!signal.aborted) {
      try {
        let rv = await this.relist();
        const resyncAt = now() + this.timing.resyncMs;
        // Watch until a resync is due; each ended watch resumes from the last resourceVersion.
        while (!signal.aborted && now() < resyncAt) {
          const opened = now();
          const next = await this.watchOnce(rv, resyncAt - now());
          // A watch that ends at once with nothing in it (a proxy closing it, say) would spin: back off instead.
          if (next === rv && now() - opened < QUICK_END_MS && !signal.aborted && now() < resyncAt) throw new Error('the watch ended at once, without events');
          rv = next;
        }
      } catch (err) {
        if (signal.aborted) break;
        if (err instanceof GoneError) {
          this.stats.relistsOnGone++;
          this.log.debug({ err: errorText(err) }, 'resourceVersion too old, relisting');
          continue;
        }
        this.stats.errors++;
        const delay = this.backoff.next('relist');
        this.log.warn({ err: errorText(err), retryInMs: delay }, 'list/watch failed, retrying');
        await this.timing.sleep(delay, signal).catch(() => undefined);
      }
    }
  }

  private async relist(): Promise<string> {
    let listed;
    try {
      listed = await this.list();
    } catch (err) {
      if (!isResourceVersionUnavailable(err)) throw err;
      // As client-go: retry at once, as a consistent read.
      this.lastSyncRvUnavailable = true;
      listed = await this.list();
    }
    this.lastSyncRvUnavailable = false;
    const { items, resourceVersion } = listed;
    this.store.clear();
    for (const item of items) this.store.set(nameOf(item), item);
    this.lastSyncRv = resourceVersion;
    this.hasSynced = true;
    this.onChange(this.store);
    return resourceVersion;
  }

  /** client-go's relistResourceVersion(). */
  private list() {
    this.stats.lists++;
    return this.lw.list(this.lastSyncRvUnavailable ? '' : this.lastSyncRv || '0');
  }

  /** One watch request; resolves with the last resourceVersion when it ends normally, rejects on failure or 410. */
  private watchOnce(fromRv: string, maxMs: number): Promise<string> {
    this.stats.watches++;
    let rv = fromRv;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => this.currentWatch?.abort(), Math.max(maxMs, 0));
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.currentWatch = null;
        if (err === undefined || this.stopper.signal.aborted || isAbort(err)) resolve(rv);
        else reject(statusCode(err) === 410 ? new GoneError(errorText(err)) : err);
      };
      const onEvent = (type: WatchEventType, obj: unknown) => {
        if (settled) return;
        if (type === 'ERROR') {
          const code = (obj as { code?: number }).code;
          const err = code === 410 ? new GoneError(JSON.stringify(obj)) : new Error(`watch error: ${JSON.stringify(obj)}`);
          const handle = this.currentWatch;
          finish(err); // settle first: the abort below reports itself as an ordinary end
          handle?.abort();
          return;
        }
        const o = obj as T;
        rv = o.metadata?.resourceVersion ?? rv;
        this.lastSyncRv = rv;
        if (type === 'BOOKMARK') return;
        if (type === 'DELETED') this.store.delete(nameOf(o));
        else this.store.set(nameOf(o), o);
        this.onChange(this.store);
      };
      this.lw.watch(rv, onEvent, finish).then(
        (handle) => {
          if (settled || this.stopper.signal.aborted) handle.abort();
          else this.currentWatch = handle;
        },
        (err: unknown) => finish(err ?? new Error('watch failed')),
      );
    });
  }
}

/** client-go's isExpiredError || isTooLargeResourceVersionError, for a failed list. */
function isResourceVersionUnavailable(err: unknown): boolean {
  if (statusCode(err) === 410) return true;
  const causes = apiStatus(err)?.details?.causes ?? [];
  // Apiservers 1.17.0-1.18.5 set only the cause's message, not its reason.
  return causes.some((c) => c.reason === 'ResourceVersionTooLarge' || (statusCode(err) === 504 && c.message === 'Too large resource version'));
}

function nameOf(o: KubeObject): string {
  const ns = o.metadata?.['namespace'];
  const name = o.metadata?.name ?? '';
  return typeof ns === 'string' && ns ? `${ns}/${name}` : name;
}

function isAbort(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: string }).name === 'AbortError';
}

/**
 * Real timing: sleep that wakes early when the reflector stops. The backoff is
 * client-go's reflector's (800 ms doubling to 30 s, jitter 1.0, reset after 2
 * min) with a 1 s start: every node's agent watches the same apiserver, and a
 * jitter of 1.0 spreads a fleet's relists after an outage over a window as
 * wide as the delay itself (one list every 30-60 s per reflector at the
 * cap), so the apiserver sees a trickle, not a herd.
 */
export function realTiming(overrides: Partial<ReflectorTiming> = {}): ReflectorTiming {
  return {
    backoffInitialMs: 1000,
    backoffMaxMs: 30_000,
    backoffJitter: 1,
    backoffResetMs: 2 * 60_000,
    resyncMs: 10 * 60_000,
    now: systemClock,
    random: Math.random,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(t);
          reject(new Error('stopped'));
        };
        const t = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, ms);
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ...overrides,
  };
}

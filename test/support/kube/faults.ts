// Fault injection for reliability tests: failing requests with a status (500, 503, 429
// with Retry-After), latency, cut watch streams, expired resourceVersions.
import type { ObjectStore } from './store.js';
import { ApiError, statusBody } from './status-errors.js';
import type { WatchHub } from './watch.js';

export interface RequestSummary {
  method: string;
  path: string;
  query: URLSearchParams;
}

export type RequestPredicate = (req: RequestSummary) => boolean;

export interface FailureSpec {
  status: 500 | 503 | 429 | 504;
  /** Seconds for Retry-After (429 and 503); default 1. */
  retryAfterSeconds?: number;
  match?: RequestPredicate;
}

interface PendingFailure extends FailureSpec {
  remaining: number;
}

interface Latency {
  ms: number;
  match?: RequestPredicate;
}

function failureFor(spec: FailureSpec): ApiError {
  const retry = String(spec.retryAfterSeconds ?? 1);
  switch (spec.status) {
    case 429:
      return new ApiError(statusBody(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: Number(retry) }), {
        'Retry-After': retry,
      });
    case 503:
      return new ApiError(statusBody(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', { retryAfterSeconds: Number(retry) }), {
        'Retry-After': retry,
      });
    case 504:
      return new ApiError(
        statusBody(504, 'Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'),
      );
    default:
      return new ApiError(statusBody(500, 'InternalError', 'Internal error occurred: injected fault', { causes: [{ message: 'injected fault' }] }));
  }
}

export class Faults {
  private failures: PendingFailure[] = [];
  private latencies: Latency[] = [];

  constructor(
    private readonly store: ObjectStore,
    private readonly watches: WatchHub,
  ) {}

  /** The next `count` requests matching spec.match (all by default) fail with spec.status. */
  failNext(count: number, spec: FailureSpec): void {
    this.failures.push({ ...spec, remaining: count });
  }

  /** Every matching request waits `ms` before it is handled. */
  addLatency(ms: number, match?: RequestPredicate): void {
    this.latencies.push({ ms, ...(match ? { match } : {}) });
  }

  /** Destroys the connections of all open watches; returns how many were cut. */
  cutWatches(): number {
    return this.watches.cutAll();
  }

  /** Compacts history: every resourceVersion handed out so far is too old for watch and continue (410). */
  expireResourceVersions(): void {
    this.store.compact();
  }

  clear(): void {
    this.failures = [];
    this.latencies = [];
  }

  /** The injected failure for this request, consuming one of its count. */
  take(req: RequestSummary): ApiError | undefined {
    const pending = this.failures.find((f) => f.remaining > 0 && (!f.match || f.match(req)));
    if (!pending) return undefined;
    pending.remaining -= 1;
    this.failures = this.failures.filter((f) => f.remaining > 0);
    return failureFor(pending);
  }

  delayFor(req: RequestSummary): number {
    return this.latencies.filter((l) => !l.match || l.match(req)).reduce((sum, l) => sum + l.ms, 0);
  }
}

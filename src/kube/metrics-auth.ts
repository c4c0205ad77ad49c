// /metrics behind the API server's own authentication and authorization, the
// way controller-runtime's filters.WithAuthenticationAndAuthorization (and
// kube-rbac-proxy) do it: the caller's bearer token is reviewed (TokenReview),
// then that user's right to the request (SubjectAccessReview of a non-resource
// URL: verb = the HTTP method in lower case, path = the URL's path; a scraper
// needs nonResourceURLs ["/metrics"] verbs ["get"]). No token, or one the API
// server does not know: 401; known but not allowed: 403; a review that fails:
// 500. Answers are cached as controller-runtime caches them: a token 1 minute
// (known or not), an allow 5 minutes, a deny 30 seconds; a failed review is not
// cached, and concurrent requests share one review. A scrape every 30 s costs
// each process a TokenReview a minute and a SubjectAccessReview every 5.
import { createHash } from 'node:crypto';
import { errorText } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Log } from '../logger.js';
import type { ReviewedUser } from './cluster-api.js';

export interface Reviews {
  reviewToken(token: string): Promise<ReviewedUser | null>;
  reviewAccess(user: ReviewedUser, verb: string, path: string): Promise<{ allowed: boolean; reason: string }>;
}

export type Verdict = { allowed: true; user: string } | { allowed: false; code: 401 | 403 | 500; message: string };

export const REVIEW_CACHE_TTL = { tokenMs: 60_000, allowMs: 5 * 60_000, denyMs: 30_000 };
/** Entries per cache: a flood of made-up tokens evicts the oldest, it does not grow memory. */
const MAX_ENTRIES = 1000;

interface Entry<T> {
  value: Promise<T>;
  /** Unset while the review is in flight. */
  expiresAt?: number;
}

export class MetricsAuthorizer {
  private readonly users = new Map<string, Entry<ReviewedUser | null>>();
  private readonly decisions = new Map<string, Entry<boolean>>();
  /** The last review failed: the next failure is logged at debug only. */
  private failing = false;

  constructor(
    private readonly reviews: Reviews,
    private readonly now: Clock,
    private readonly log: Log,
    private readonly ttl = REVIEW_CACHE_TTL,
  ) {}

  /** May the caller with this Authorization header make this request? */
  async check(authorization: string | undefined, method: string, path: string): Promise<Verdict> {
    const token = /^bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token) return { allowed: false, code: 401, message: 'Unauthorized' };
    let user: ReviewedUser | null;
    try {
      user = await this.cached(
        this.users,
        createHash('sha256').update(token).digest('hex'),
        () => this.reviewed(this.reviews.reviewToken(token)),
        () => this.ttl.tokenMs,
      );
    } catch {
      return { allowed: false, code: 500, message: 'Authentication failed' };
    }
    if (!user) {
      this.log.debug({ path }, 'metrics: a token the API server does not know');
      return { allowed: false, code: 401, message: 'Unauthorized' };
    }
    const verb = method.toLowerCase();
    const key = JSON.stringify([user.username, user.uid, user.groups, user.extra, verb, path]);
    let allowed: boolean;
    try {
      const reviewUser = user;
      allowed = await this.cached(
        this.decisions,
        key,
        () => this.reviewed(this.reviews.reviewAccess(reviewUser, verb, path).then((d) => d.allowed)),
        (ok) => (ok ? this.ttl.allowMs : this.ttl.denyMs),
      );
    } catch {
      return { allowed: false, code: 500, message: `Authorization for user ${user.username} failed` };
    }
    if (!allowed) {
      this.log.debug({ user: user.username, verb, path }, 'metrics: refused, RBAC does not allow it');
      return { allowed: false, code: 403, message: `Authorization denied for user ${user.username}` };
    }
    return { allowed: true, user: user.username };
  }

  /** A review's answer; its failure is logged at warn once until a review works again. */
  private reviewed<T>(review: Promise<T>): Promise<T> {
    return review.then(
      (value) => ((this.failing = false), value),
      (err: unknown) => {
        this.log[this.failing ? 'debug' : 'warn']({ err: errorText(err) }, 'metrics: the API server could not review a scrape (answered 500)');
        this.failing = true;
        throw err;
      },
    );
  }

  private cached<T>(cache: Map<string, Entry<T>>, key: string, load: () => Promise<T>, ttlOf: (value: T) => number): Promise<T> {
    const hit = cache.get(key);
    if (hit && (hit.expiresAt === undefined || hit.expiresAt > this.now())) return hit.value;
    const entry: Entry<T> = { value: load() };
    cache.delete(key);
    cache.set(key, entry);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    entry.value.then(
      (value) => void (entry.expiresAt = this.now() + ttlOf(value)),
      () => void (cache.get(key) === entry && cache.delete(key)),
    );
    return entry.value;
  }
}

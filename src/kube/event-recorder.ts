// An event recorder with client-go's manners, so a flapping node cannot flood
// the API server or an on-call pager:
// - dedupe: the same event again (object, type, reason, message) updates the
//   existing Event's count and lastTimestamp instead of creating a new one;
// - aggregate: after AGGREGATE_AFTER similar events (same object, type and
//   reason, different messages) within the window, they fold into one
//   "(combined from similar events)" Event;
// - rate limit: a token bucket per object and reason (burst, then one per
//   refill interval); what it stops is counted, not lost silently.
// Pure: the clock and the sink are passed in.

import { statusCode } from '../errors.js';
import type { Clock } from '../clock.js';
import type { EventType } from '../report/event-intent.js';

export interface EventTarget {
  kind: string;
  name: string;
  uid?: string;
  namespace?: string;
  apiVersion?: string;
}

export interface RecordedEvent {
  /** Opaque handle the sink returned on create, passed back on update. */
  ref: string;
  target: EventTarget;
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: Date;
  lastTimestamp: Date;
}

export interface EventSink {
  /** Create a new Event; returns its name (the ref used for updates). */
  create(e: Omit<RecordedEvent, 'ref'>): Promise<string>;
  /** Update count and lastTimestamp (and message) of an Event created before. */
  update(e: RecordedEvent): Promise<void>;
}

export interface RecorderOptions {
  burst: number;
  refillMs: number;
  aggregateAfter: number;
  windowMs: number;
}

/** client-go's defaults: burst 25, one more every 5 minutes; 10 similar in 10 minutes aggregate. */
const CLIENT_GO_DEFAULTS: RecorderOptions = { burst: 25, refillMs: 300_000, aggregateAfter: 10, windowMs: 600_000 };

interface Bucket {
  tokens: number;
  last: number;
}

interface Similar {
  messages: Set<string>;
  first: number;
}

export class EventRecorder {
  private readonly seen = new Map<string, RecordedEvent>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly similar = new Map<string, Similar>();
  private lastPrune = 0;
  /** Events the rate limiter stopped, by reason. */
  readonly suppressed = new Map<string, number>();

  constructor(
    private readonly sink: EventSink,
    private readonly now: Clock,
    private readonly options: RecorderOptions = CLIENT_GO_DEFAULTS,
  ) {}

  /** Record an event; resolves when the sink has it, or at once when rate-limited. Returns what happened. */
  async record(target: EventTarget, type: EventType, reason: string, message: string): Promise<'created' | 'updated' | 'suppressed'> {
    const nowMs = this.now();
    const now = new Date(nowMs);
    const objectKey = `${target.kind}/${target.namespace ?? ''}/${target.name}/${target.uid ?? ''}`;
    const similarKey = `${objectKey}/${type}/${reason}`;
    if (!this.take(similarKey, nowMs)) {
      this.suppressed.set(reason, (this.suppressed.get(reason) ?? 0) + 1);
      return 'suppressed';
    }
    const combined = this.aggregate(similarKey, message, nowMs);
    // Once combined, every similar event updates the one combined Event.
    const finalMessage = combined ? `(combined from similar events): ${message}` : message;
    const key = combined ? `${similarKey}/combined` : `${similarKey}/${message}`;
    this.prune(nowMs);
    const prev = this.seen.get(key);
    if (prev && nowMs - prev.lastTimestamp.getTime() <= this.options.windowMs) {
      const next = { ...prev, message: finalMessage, count: prev.count + 1, lastTimestamp: now };
      try {
        await this.sink.update(next);
        this.seen.set(key, next);
        return 'updated';
      } catch (err) {
        // The Event is gone (its TTL expired, or someone deleted it): record a new one, as client-go does.
        if (statusCode(err) !== 404) throw err;
      }
    }
    const event = { target, type, reason, message: finalMessage, count: 1, firstTimestamp: now, lastTimestamp: now };
    const ref = await this.sink.create(event);
    this.seen.set(key, { ...event, ref });
    return 'created';
  }

  /** Forget what is older than the window, so the maps stay small on a node that runs for months. */
  private prune(now: number): void {
    if (now - this.lastPrune < this.options.windowMs) return;
    this.lastPrune = now;
    for (const [k, e] of this.seen) if (now - e.lastTimestamp.getTime() > this.options.windowMs) this.seen.delete(k);
    for (const [k, s] of this.similar) if (now - s.first > this.options.windowMs) this.similar.delete(k);
    // A bucket idle long enough to have refilled completely is the same as no bucket.
    const refilledAfter = this.options.burst * this.options.refillMs;
    for (const [k, b] of this.buckets) if (now - b.last > refilledAfter) this.buckets.delete(k);
  }

  private take(key: string, now: number): boolean {
    const b = this.buckets.get(key) ?? { tokens: this.options.burst, last: now };
    const refilled = Math.min(this.options.burst, b.tokens + Math.floor((now - b.last) / this.options.refillMs));
    const last = refilled > b.tokens ? now : b.last;
    if (refilled < 1) {
      this.buckets.set(key, { tokens: refilled, last });
      return false;
    }
    this.buckets.set(key, { tokens: refilled - 1, last });
    return true;
  }

  /** True once this event's similar set has reached the aggregation threshold. */
  private aggregate(key: string, message: string, now: number): boolean {
    let s = this.similar.get(key);
    if (!s || now - s.first > this.options.windowMs) {
      s = { messages: new Set(), first: now };
      this.similar.set(key, s);
    }
    s.messages.add(message);
    return s.messages.size >= this.options.aggregateAfter;
  }
}

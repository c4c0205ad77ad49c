// Top-N most frequent keys of a stream in bounded memory: exact counts while
// the distinct keys fit in `capacity`, then the Space-Saving sketch (Metwally,
// Agrawal, El Abbadi 2005) over the same number of counters. Space-Saving
// never under-counts; each count over-counts by at most its recorded error,
// which is at most the smallest counter (the error bound below). Every key
// seen more often than the bound is guaranteed to be among the counters.
// The counters live in an indexed min-heap, so each add is O(log capacity).

export interface TopKey {
  key: string;
  /** Exact count, or an upper bound of it once the sketch is in use. */
  count: number;
  /** How much `count` may over-count (0 while exact). count - maxOverestimate is a lower bound. */
  maxOverestimate: number;
}

export interface TopKResult {
  items: TopKey[];
  /** True while every distinct key had its own exact counter. */
  exact: boolean;
  /** Largest possible over-count of any reported count, and the largest possible count of any key not reported among the counters. 0 when exact. */
  errorBound: number;
  /** Number of additions seen. */
  total: number;
}

export class HeavyHitters {
  private exactCounts: Map<string, number> | null = new Map();
  // Sketch state, used once exactCounts overflows: parallel arrays forming a min-heap on counts.
  private readonly index = new Map<string, number>();
  private keys: string[] = [];
  private counts: number[] = [];
  private errors: number[] = [];
  private total = 0;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`HeavyHitters capacity: want a positive integer, got ${capacity}`);
  }

  add(key: string): void {
    this.total++;
    const exact = this.exactCounts;
    if (exact !== null) {
      const c = exact.get(key);
      if (c !== undefined) exact.set(key, c + 1);
      else if (exact.size < this.capacity) exact.set(key, 1);
      else {
        this.startSketch(exact);
        this.addToSketch(key);
      }
      return;
    }
    this.addToSketch(key);
  }

  /** The n largest counts, largest first (ties by key, for a stable report). */
  top(n: number): TopKResult {
    const exact = this.exactCounts !== null;
    const all: TopKey[] = exact
      ? [...this.exactCounts!].map(([key, count]) => ({ key, count, maxOverestimate: 0 }))
      : this.keys.map((key, i) => ({ key, count: this.counts[i]!, maxOverestimate: this.errors[i]! }));
    all.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { items: all.slice(0, n), exact, errorBound: exact ? 0 : (this.counts[0] ?? 0), total: this.total };
  }

  private startSketch(exact: Map<string, number>): void {
    for (const [key, count] of exact) {
      this.index.set(key, this.keys.length);
      this.keys.push(key);
      this.counts.push(count);
      this.errors.push(0);
    }
    this.exactCounts = null;
    for (let i = (this.keys.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private addToSketch(key: string): void {
    const i = this.index.get(key);
    if (i !== undefined) {
      this.counts[i]!++;
      this.siftDown(i);
      return;
    }
    // Replace the smallest counter: the newcomer may have been seen up to min times before.
    const min = this.counts[0]!;
    this.index.delete(this.keys[0]!);
    this.keys[0] = key;
    this.errors[0] = min;
    this.counts[0] = min + 1;
    this.index.set(key, 0);
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const n = this.keys.length;
    const counts = this.counts;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const child = r < n && counts[r]! < counts[l]! ? r : l;
      if (counts[child]! >= counts[i]!) return;
      this.swap(i, child);
      i = child;
    }
  }

  private swap(a: number, b: number): void {
    const { keys, counts, errors, index } = this;
    [keys[a], keys[b]] = [keys[b]!, keys[a]!];
    [counts[a], counts[b]] = [counts[b]!, counts[a]!];
    [errors[a], errors[b]] = [errors[b]!, errors[a]!];
    index.set(keys[a]!, a);
    index.set(keys[b]!, b);
  }
}

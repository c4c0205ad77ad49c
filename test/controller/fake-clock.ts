// A fake clock that also runs the timers set on it: the controller's tests move time instead of waiting.
import type { Timers } from '../../src/controller/leader-election.js';
import type { QueueClock } from '../../src/work-queue.js';

export const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Lets every promise continuation queued so far run (the fakes answer without real I/O). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

export class FakeClock implements Timers {
  t = T0;
  private seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();
  now = (): number => this.t;
  setTimeout(fn: () => void, ms: number): number {
    this.timers.set(++this.seq, { at: this.t + ms, fn });
    return this.seq;
  }
  clearTimeout(id: unknown): void {
    this.timers.delete(id as number);
  }
  /** Moves time forward by ms, firing due timers in order, each with the clock at its time. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await flush();
    for (;;) {
      const due = [...this.timers].filter(([, t]) => t.at <= end).sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
  async advanceTo(msSinceT0: number): Promise<void> {
    await this.advance(T0 + msSinceT0 - this.t);
  }
}

/** The clock as a work queue takes it (its timers, and `random` for the backoff's jitter). */
export function queueClock(clock: FakeClock, random: () => number = () => 0): QueueClock {
  return { now: clock.now, setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (h) => clock.clearTimeout(h), random };
}

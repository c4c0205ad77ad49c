// A NotrackBackend held in memory: records every call, renders rules to
// comparable lines, and can be told to fail its next sync or remove, either
// cleanly or after changing its state (one IP family synced, the other not).
import type { NotrackBackend, NotrackCheck, NotrackDesired } from '../../src/kernel/notrack/backend.js';

export type NotrackCall = { op: 'check' | 'sync'; desired: NotrackDesired } | { op: 'remove' };

function ruleLines(desired: NotrackDesired): string[] {
  const lines = desired.rules.map((r) => `notrack ${JSON.stringify(r)}`);
  return desired.acceptUntracked ? ['accept ctstate UNTRACKED', ...lines] : lines;
}

export class FakeNotrackBackend implements NotrackBackend {
  readonly name = 'nftables' as const;
  canAcceptUntracked = true;
  /** Our chains' content; null = no chains of ours. */
  current: NotrackDesired | null = null;
  readonly calls: NotrackCall[] = [];
  private failure: { op: 'sync' | 'remove'; partial: boolean } | null = null;

  /** Make the next sync/remove throw; partial: after taking effect (as a half-done two-family sync). */
  failNext(op: 'sync' | 'remove', partial = false): this {
    this.failure = { op, partial };
    return this;
  }

  async check(desired: NotrackDesired): Promise<NotrackCheck> {
    this.calls.push({ op: 'check', desired });
    const have = this.current ? ruleLines(this.current) : [];
    const want = ruleLines(desired);
    const missing = want.filter((l) => !have.includes(l));
    const extra = have.filter((l) => !want.includes(l));
    return { inSync: missing.length === 0 && extra.length === 0, missing, extra, ownedRules: have.length };
  }

  async sync(desired: NotrackDesired): Promise<void> {
    this.calls.push({ op: 'sync', desired });
    this.change('sync', structuredClone(desired));
  }

  async remove(): Promise<void> {
    this.calls.push({ op: 'remove' });
    this.change('remove', null);
  }

  private change(op: 'sync' | 'remove', next: NotrackDesired | null): void {
    const failure = this.failure?.op === op ? this.failure : null;
    if (failure) {
      this.failure = null;
      if (failure.partial) this.current = next;
      throw new Error(`notrack ${op}: injected failure`);
    }
    this.current = next;
  }

  get writes(): number {
    return this.calls.filter((c) => c.op !== 'check').length;
  }
}

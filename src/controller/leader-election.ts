// Lease-based leader election, a small client-go leaderelection: acquire the
// Lease when it is free or expired, renew it while leading, step down when no
// renewal succeeded within renewDeadline, release it on stop. Only the leader writes.
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { ClusterApi } from '../kube/cluster-api.js';
import { errorText, statusCode } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Log } from '../logger.js';

export interface LeaseConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryMs: number;
}

/** client-go's defaults. */
export const DEFAULT_LEASE = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryMs: 2000 };

export type LeaseApi = Pick<ClusterApi, 'getLease' | 'createLease' | 'replaceLease'>;

/** setTimeout/clearTimeout, injectable so tests can run the loop on a fake clock. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}
const realTimers: Timers = { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };

export class LeaderElector {
  private leading = false;
  private running = false;
  private stopping: Promise<void> | null = null;
  private next: unknown = null; // the next attempt
  private deadline: unknown = null; // step-down unless renewed before it fires
  private inflight: Promise<boolean> = Promise.resolve(false);
  /** The Lease as last seen, and when (by our clock) it last changed: expiry never reads another node's clock. */
  private observed: { key: string; holder: string; durationMs: number; at: number } | null = null;

  constructor(
    private readonly api: LeaseApi,
    private readonly cfg: LeaseConfig,
    private readonly now: Clock,
    private readonly onChange: (leading: boolean) => void,
    private readonly log: Log,
    private readonly timers: Timers = realTimers,
  ) {
    // A leader must give up before a follower may take over, and get several tries before that.
    if (!(cfg.renewDeadlineSeconds < cfg.leaseDurationSeconds))
      throw new Error(`renewDeadlineSeconds (${cfg.renewDeadlineSeconds}) must be less than leaseDurationSeconds (${cfg.leaseDurationSeconds})`);
    if (!(cfg.retryMs > 0 && cfg.retryMs < cfg.renewDeadlineSeconds * 1000))
      throw new Error(`retryMs (${cfg.retryMs}) must be positive and less than renewDeadlineSeconds (${cfg.renewDeadlineSeconds}s)`);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running || this.stopping) return;
    this.running = true;
    void this.cycle();
  }

  /** Stops trying; when leading, steps down, then releases the Lease so another replica need not wait it out. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    this.running = false;
    this.timers.clearTimeout(this.next);
    this.timers.clearTimeout(this.deadline);
    if (this.leading) this.setLeading(false);
    if (this.observed?.holder !== this.cfg.identity) return;
    // Let an attempt in flight land first (its write would 409 the release), but give up after renewDeadline like client-go.
    let timer: unknown;
    const giveUp = new Promise<'timeout'>((resolve) => (timer = this.timers.setTimeout(() => resolve('timeout'), this.cfg.renewDeadlineSeconds * 1000)));
    const done = await Promise.race([this.inflight.then(() => this.release()), giveUp]);
    this.timers.clearTimeout(timer);
    if (done === 'timeout') this.log.warn({ lease: this.leaseName() }, 'gave up releasing the leader Lease');
  }

  /** One attempt, then the next one retryMs after it settled: a hung request never stacks up more. */
  private async cycle(): Promise<void> {
    const startedAt = this.now();
    this.inflight = this.tryAcquireOrRenew();
    const ok = await this.inflight;
    if (!this.running) return; // stopped meanwhile: no callbacks
    if (ok) this.renewed(startedAt);
    else if (this.leading && this.observed && this.observed.holder !== this.cfg.identity) this.stepDown('another replica holds the Lease');
    this.next = this.timers.setTimeout(() => void this.cycle(), this.cfg.retryMs);
  }

  private renewed(startedAt: number): void {
    // Counted from when the request left: the write may have landed any time after, and
    // followers wait leaseDuration from when they saw it. An answer after the deadline does not count.
    const left = startedAt + this.cfg.renewDeadlineSeconds * 1000 - this.now();
    if (left <= 0) return;
    this.timers.clearTimeout(this.deadline);
    this.deadline = this.timers.setTimeout(() => this.stepDown('could not renew the leader Lease within renewDeadline'), left);
    if (!this.leading) this.setLeading(true);
  }

  private stepDown(why: string): void {
    if (!this.running || !this.leading) return;
    this.log.warn({ lease: this.leaseName() }, `${why}; stepping down`);
    this.setLeading(false);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.onChange(leading);
  }

  private leaseName(): string {
    return `${this.cfg.namespace}/${this.cfg.name}`;
  }

  private observe(lease: V1Lease): void {
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const key = [lease.metadata?.resourceVersion, holder, spec.renewTime ? new Date(spec.renewTime).getTime() : ''].join('/');
    if (key === this.observed?.key) return;
    this.observed = { key, holder, durationMs: (spec.leaseDurationSeconds ?? this.cfg.leaseDurationSeconds) * 1000, at: this.now() };
  }

  /** One attempt; true when we hold the Lease afterwards. Never throws: an API failure is "not renewed". */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.cfg;
    // MicroTime: the apiserver refuses a millisecond timestamp here (400, "cannot parse .022Z as .000000").
    const now = new V1MicroTime(this.now());
    try {
      const lease = await this.api.getLease(namespace, name);
      if (this.stopping) return false; // stopped meanwhile: take nothing we would not release
      if (!lease) {
        const body: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        };
        this.observe(await this.api.createLease(namespace, body));
        return true;
      }
      this.observe(lease);
      const { holder, at, durationMs } = this.observed!;
      // Held by another and seen changing within its duration: alive, whatever its renewTime says.
      if (holder !== '' && holder !== identity && at + durationMs > this.now()) return false;
      const spec = lease.spec ?? {};
      const takeover = holder !== identity;
      // Optimistic concurrency: metadata.resourceVersion is the one we read, so of racing replicas one wins, the others get 409.
      const replaced = await this.api.replaceLease(namespace, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          renewTime: now,
          ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      });
      this.observe(replaced);
      return true;
    } catch (err) {
      // 409: another replica won the race. Anything else is worth a line: it may never succeed.
      if (statusCode(err) !== 409) this.log.warn({ err: errorText(err), lease: this.leaseName() }, 'could not acquire or renew the leader Lease');
      return false;
    }
  }

  /** client-go's ReleaseOnCancel: no holder, 1s duration, so a follower takes over at its next try. Best effort. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.cfg;
    try {
      const lease = await this.api.getLease(namespace, name); // for a current resourceVersion
      if (lease?.spec?.holderIdentity !== identity) return;
      const now = new V1MicroTime(this.now());
      this.observe(
        await this.api.replaceLease(namespace, {
          ...lease,
          spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: now, renewTime: now },
        }),
      );
    } catch (err) {
      this.log.warn({ err: errorText(err), lease: this.leaseName() }, 'could not release the leader Lease');
    }
  }
}

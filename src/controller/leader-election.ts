// Lease-based leader election (client-go's leaderelection, small): acquire the
// Lease when it is free or expired, renew it while leading, step down when a
// renewal fails for longer than the lease lasts. Only the leader writes.
import { V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import type { ClusterApi } from '../kube/cluster-api.js';

export interface LeaseConfig {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  retryMs: number;
}

export const DEFAULT_LEASE = { leaseDurationSeconds: 15, retryMs: 2000 };

export class LeaderElector {
  private leading = false;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly api: ClusterApi,
    private readonly cfg: LeaseConfig,
    private readonly now: () => number,
    private readonly onChange: (leading: boolean) => void,
    private readonly log: { warn(o: object, m: string): void },
  ) {}

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    const tick = () => {
      void this.tryAcquireOrRenew().then((ok) => this.settle(ok));
    };
    tick();
    this.timer = setInterval(tick, this.cfg.retryMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.leading) this.setLeading(false);
  }

  private settle(renewed: boolean): void {
    if (renewed) {
      this.lastRenew = this.now();
      if (!this.leading) this.setLeading(true);
    } else if (this.leading && this.now() - this.lastRenew > this.cfg.leaseDurationSeconds * 1000) {
      this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.onChange(leading);
  }

  /** One attempt; true when we hold the Lease afterwards. Never throws: an API failure is "not renewed". */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationSeconds } = this.cfg;
    // MicroTime: the apiserver refuses a millisecond timestamp here (400, "cannot parse .022Z as .000000").
    const now = new V1MicroTime(this.now());
    try {
      const lease = await this.api.getLease(namespace, name);
      if (!lease) {
        const body: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name, namespace },
          spec: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
        };
        await this.api.createLease(namespace, body);
        return true;
      }
      const spec = lease.spec ?? {};
      const renewed = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
      const expired = renewed + (spec.leaseDurationSeconds ?? leaseDurationSeconds) * 1000 < now.getTime();
      if (spec.holderIdentity !== identity && !expired) return false;
      const takeover = spec.holderIdentity !== identity;
      await this.api.replaceLease(namespace, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: identity,
          leaseDurationSeconds,
          renewTime: now,
          ...(takeover ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      });
      return true;
    } catch (err) {
      // 409: another replica won the race. Anything else is worth a line: it may never succeed.
      if ((err as { code?: number }).code !== 409) this.log.warn({ err: err instanceof Error ? err.message : String(err), lease: `${namespace}/${name}` }, 'could not acquire or renew the leader Lease');
      return false;
    }
  }
}

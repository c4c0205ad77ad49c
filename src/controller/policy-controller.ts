// The cluster-wide view: watches policies, node statuses and nodes, and keeps
// each ConntrackPolicy's status (selected / in sync / drifted / failed,
// Ready, Degraded, Conflict, Rejected). Only the leader writes; it writes a
// policy's status only when it changed.
import { isDeepStrictEqual } from 'node:util';
import { POLICIES, STATUSES, type ClusterApi, type CustomObject } from '../kube/cluster-api.js';
import { validPolicies } from '../kube/cluster-policy-source.js';
import { Reflector, type KubeObject, type ReflectorLog, type ReflectorTiming } from '../kube/reflector.js';
import type { Labels } from '../policy/select.js';
import type { Condition } from '../report/conditions.js';
import { buildPolicyStatus, conflictsByPolicy, type ClusterView } from '../report/policy-status.js';
import type { NodeStatusDoc, PolicyStatusDoc } from '../report/status-schema.js';
import { SerialTask } from '../serial-task.js';
import { errorText, statusCode } from '../errors.js';

export interface ControllerLog extends ReflectorLog {
  info(o: object, m: string): void;
  error(o: object, m: string): void;
}

const DEBOUNCE_MS = 500;
const RETRY_MS = 2000;

export class PolicyController {
  private readonly policies: Reflector<CustomObject>;
  private readonly statuses: Reflector<CustomObject>;
  private readonly nodes: Reflector<KubeObject>;
  private pending: NodeJS.Timeout | null = null;
  private retry: NodeJS.Timeout | null = null;
  private leading = false;
  private stopped = false;
  private readonly passes = new SerialTask(
    () => this.pass(),
    () => this.leading,
    (err) => {
      this.log.error({ err: errorText(err) }, 'policy status pass failed; retrying');
      this.retryLater();
    },
  );
  /** Writes made, for the benchmark and the tests. */
  readonly stats = { passes: 0, writes: 0, lastPassMs: 0 };

  constructor(
    private readonly api: ClusterApi,
    timing: ReflectorTiming,
    private readonly log: ControllerLog,
    private readonly now: () => Date,
    private readonly onPass?: (seconds: number) => void,
  ) {
    const changed = () => this.schedule();
    this.policies = new Reflector(api.customListWatch(POLICIES), changed, timing, log);
    this.statuses = new Reflector(api.customListWatch(STATUSES), changed, timing, log);
    this.nodes = new Reflector(api.nodeListWatch(), changed, timing, log);
  }

  start(): void {
    this.policies.start();
    this.statuses.start();
    this.nodes.start();
  }

  async stop(): Promise<void> {
    this.stopped = true; // the elector may still report leadership while it shuts down: no pass after this
    if (this.pending) clearTimeout(this.pending);
    if (this.retry) clearTimeout(this.retry);
    this.pending = this.retry = null;
    await Promise.all([this.policies.stop(), this.statuses.stop(), this.nodes.stop()]);
    await this.passes.idle();
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.schedule();
  }

  /** Coalesce bursts of watch events into one pass. */
  private schedule(): void {
    if (!this.leading || this.stopped || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.passes.trigger();
    }, DEBOUNCE_MS);
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.schedule();
    }, RETRY_MS);
  }

  /** Compute every policy's status and write the ones that changed. */
  async pass(): Promise<void> {
    // Before every cache has listed once, "no nodes" or "no statuses" would be a lie written to every policy.
    if (![this.policies, this.statuses, this.nodes].every((r) => r.hasSynced)) {
      this.retryLater();
      return;
    }
    const started = Date.now();
    const view: ClusterView = {
      nodes: [...this.nodes.store.values()].map((n) => ({ name: n.metadata?.name ?? '', labels: ((n.metadata as { labels?: Labels } | undefined)?.labels ?? {}) as Labels })),
      statuses: new Map([...this.statuses.store.values()].filter((s) => s.status).map((s) => [s.metadata.name, s.status as NodeStatusDoc])),
    };
    const objects = [...this.policies.store.values()];
    const valid = validPolicies(objects).policies;
    const conflicts = conflictsByPolicy(valid, view.nodes);
    const now = this.now();
    for (const obj of objects) {
      const name = obj.metadata.name;
      const errors = validPolicies([obj]).errors;
      const previous = (obj.status as PolicyStatusDoc | undefined)?.conditions ?? [];
      const status = buildPolicyStatus(
        {
          name,
          generation: obj.metadata.generation ?? 1,
          nodeSelector: (obj.spec as { nodeSelector?: unknown } | undefined)?.nodeSelector,
          errors,
          previous: previous as Condition<PolicyStatusDoc['conditions'][number]['type']>[],
        },
        view,
        conflicts.get(name),
        now,
      );
      // Key order differs between what we build and what the server returns: compare structurally.
      if (isDeepStrictEqual(status, obj.status)) continue;
      if (!this.leading) return; // lost the Lease mid-pass: the new leader writes from here
      try {
        await this.write({ ...obj, status });
      } catch (err) {
        this.log.error({ policy: name, err: errorText(err) }, 'could not write the policy status; retrying');
        this.retryLater();
      }
    }
    this.stats.passes++;
    this.stats.lastPassMs = Date.now() - started;
    this.onPass?.(this.stats.lastPassMs / 1000);
  }

  private async write(obj: CustomObject): Promise<void> {
    try {
      await this.api.replaceCustomStatus(POLICIES, obj);
      this.stats.writes++;
    } catch (err) {
      // 409: the policy changed meanwhile; its watch event schedules another pass. 404: it is gone.
      if (statusCode(err) === 409 || statusCode(err) === 404) return;
      throw err;
    }
  }
}

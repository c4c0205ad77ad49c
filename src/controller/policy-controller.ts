// The cluster-wide view: watches policies, node statuses and nodes, and keeps
// each ConntrackPolicy's status (selected / in sync / drifted / failed,
// Ready, Degraded, Conflict, Rejected). Only the leader writes; it writes a
// policy's status only when it changed.
import { POLICIES, STATUSES, type ClusterApi, type CustomObject } from '../kube/cluster-api.js';
import { validPolicies } from '../kube/cluster-policy-source.js';
import { Reflector, type KubeObject, type ReflectorLog, type ReflectorTiming } from '../kube/reflector.js';
import type { Labels } from '../policy/select.js';
import type { Condition } from '../report/conditions.js';
import { buildPolicyStatus, conflictsByPolicy, type ClusterView } from '../report/policy-status.js';
import type { NodeStatusDoc, PolicyStatusDoc } from '../report/status-schema.js';
import { SerialTask } from '../serial-task.js';

export interface ControllerLog extends ReflectorLog {
  info(o: object, m: string): void;
  error(o: object, m: string): void;
}

const DEBOUNCE_MS = 500;
const codeOf = (err: unknown) => (err as { code?: number }).code;

export class PolicyController {
  private readonly policies: Reflector<CustomObject>;
  private readonly statuses: Reflector<CustomObject>;
  private readonly nodes: Reflector<KubeObject>;
  private pending: NodeJS.Timeout | null = null;
  private leading = false;
  private readonly passes = new SerialTask(
    () => this.pass().catch((err: unknown) => this.log.error({ err: String(err) }, 'policy status pass failed')),
    () => this.leading,
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
    if (this.pending) clearTimeout(this.pending);
    await Promise.all([this.policies.stop(), this.statuses.stop(), this.nodes.stop()]);
    await this.passes.idle();
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.schedule();
  }

  /** Coalesce bursts of watch events into one pass. */
  private schedule(): void {
    if (!this.leading || this.pending) return;
    this.pending = setTimeout(() => {
      this.pending = null;
      this.passes.trigger();
    }, DEBOUNCE_MS);
  }

  /** Compute every policy's status and write the ones that changed. */
  async pass(): Promise<void> {
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
      if (JSON.stringify(status) === JSON.stringify(obj.status)) continue;
      await this.write({ ...obj, status });
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
      if (codeOf(err) === 409 || codeOf(err) === 404) return;
      throw err;
    }
  }
}

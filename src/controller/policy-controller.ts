// The cluster-wide view: watches policies, node statuses and nodes, and keeps
// each ConntrackPolicy's status (selected / in sync / drifted / failed,
// Ready, Degraded, Conflict, Rejected). Only the leader writes; it writes a
// policy's status only when it changed.
// Each policy is a key of a work queue (work-queue.ts), reconciled as
// controller-runtime reconciles an object: a watch event of a policy, of a
// node or of a node status queues every policy, once, after a short debounce;
// a write that fails throws, and the queue retries that policy with
// exponential backoff (forgotten on success). A 4xx that blames the request
// body (422 Invalid, 400: see isTerminal) is terminal: the same write would
// fail the same way, so it waits until the policy changes or the status to
// write does. A change of the policy (a new resourceVersion) is tried at its
// next reconcile even while its retry waits.
import { isDeepStrictEqual } from 'node:util';
import type { BackoffPolicy } from '../backoff.js';
import { POLICY_RESOURCE, STATUS_RESOURCE } from '../api/v1alpha1/names.js';
import type { ClusterApi, CustomObject } from '../kube/cluster-api.js';
import { Reflector, type KubeObject, type ReflectorTiming } from '../kube/reflector.js';
import type { Log } from '../logger.js';
import { validPolicies } from '../policy/load.js';
import type { Labels } from '../policy/select.js';
import type { Condition } from '../report/conditions.js';
import { buildPolicyStatus, conflictsByPolicy, type ClusterView } from '../report/policy-status.js';
import type { NodeStatusDoc, PolicyStatusDoc } from '../api/v1alpha1/status.js';
import { errorText, statusCode } from '../errors.js';
import { realQueueClock, WorkQueue, type QueueClock, type QueueRunResult } from '../work-queue.js';

/** Watch events within this much of the first are one reconcile of each policy. */
const DEBOUNCE_MS = 500;
/**
 * controller-runtime starts at 5 ms and caps at 1000 s, for reconciles that
 * are cheap and many. Here a retry is a small PUT of a policy's status: 1 s
 * first, doubling to 2 min, keeps a failing API from being hammered while a
 * status is stale at most ~3 min (2 min + jitter) after the API recovers.
 * The jitter (up to +50%) spreads policies that failed together.
 * controller-runtime's overall bucket limiter has its counterpart in the
 * debounce and the one worker.
 */
export const WRITE_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 120_000, jitter: 0.5 };

/** Every policy validated, the conflicts between the valid ones, and the nodes and statuses: computed once per change of the caches. */
interface Snapshot {
  view: ClusterView;
  checked: Map<string, { obj: CustomObject; errors: ReturnType<typeof validPolicies>['errors'] }>;
  conflicts: ReturnType<typeof conflictsByPolicy>;
}

export class PolicyController {
  private readonly policies: Reflector<CustomObject>;
  private readonly statuses: Reflector<CustomObject>;
  private readonly nodes: Reflector<KubeObject>;
  private readonly queue: WorkQueue<string>;
  private leading = false;
  /** Bumped by every watch event: the snapshot of an older version is stale. */
  private version = 0;
  private snapshot: { version: number; value: Snapshot } | null = null;
  /** A policy whose write failed: the resourceVersion that failed, so that other objects' events leave its retry alone. */
  private readonly failedAt = new Map<string, string | undefined>();
  /** A policy whose status the API refused (terminal): not sent again until the policy or the status changes. */
  private readonly refused = new Map<string, { resourceVersion: string | undefined; status: PolicyStatusDoc }>();
  /** Reconciles made and writes made, for the benchmark and the tests. */
  readonly stats = { passes: 0, writes: 0, lastPassMs: 0 };

  constructor(
    private readonly api: ClusterApi,
    timing: ReflectorTiming,
    private readonly log: Log,
    private readonly clock: QueueClock = realQueueClock,
    private readonly onPass?: (seconds: number) => void,
  ) {
    this.queue = new WorkQueue(
      (name, signal) => this.reconcile(name, signal),
      { backoff: WRITE_BACKOFF, onError: (name, err, delay) => this.failed(name, err, delay) },
      clock,
    );
    const changed = () => {
      this.version++;
      this.queueAll();
    };
    this.policies = new Reflector(api.customListWatch(POLICY_RESOURCE.plural), changed, timing, log);
    this.statuses = new Reflector(api.customListWatch(STATUS_RESOURCE.plural), changed, timing, log);
    this.nodes = new Reflector(api.nodeListWatch(), changed, timing, log);
  }

  start(): void {
    this.policies.start();
    this.statuses.start();
    this.nodes.start();
  }

  /** No reconcile starts after this (the elector may still report leadership while it shuts down); the one running finishes. */
  async stop(): Promise<void> {
    await this.queue.shutdown();
    await Promise.all([this.policies.stop(), this.statuses.stop(), this.nodes.stop()]);
  }

  setLeading(leading: boolean): void {
    this.leading = leading;
    if (leading) this.queueAll();
  }

  /** Every policy, once, after the debounce; except one whose retry waits and that did not change since it failed. */
  private queueAll(): void {
    if (!this.leading) return;
    for (const obj of this.policies.store.values()) {
      const name = obj.metadata.name;
      const retrying = this.queue.failures(name) > 0 && this.failedAt.get(name) === obj.metadata.resourceVersion;
      if (!retrying) this.queue.addAfter(name, DEBOUNCE_MS);
    }
  }

  /** Compute one policy's status and write it if it changed. Throws when the write should be retried. */
  async reconcile(name: string, signal: AbortSignal): Promise<QueueRunResult> {
    // Before every cache has listed once, "no nodes" or "no statuses" would be a lie written to every policy;
    // the last cache to list queues every policy again.
    if (!this.leading || ![this.policies, this.statuses, this.nodes].every((r) => r.hasSynced)) return {};
    const started = this.clock.now();
    const { view, checked, conflicts } = this.currentSnapshot();
    const entry = checked.get(name);
    if (!entry) return this.forget(name); // deleted meanwhile
    const { obj, errors } = entry;
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
      new Date(started),
    );
    this.stats.passes++;
    try {
      // Key order differs between what we build and what the server returns: compare structurally.
      if (isDeepStrictEqual(status, obj.status)) return this.forget(name); // nothing to write: as good as a write that succeeded
      const refused = this.refused.get(name);
      if (refused && refused.resourceVersion === obj.metadata.resourceVersion && isDeepStrictEqual(untimed(refused.status), untimed(status))) return {};
      if (!this.leading || signal.aborted) return {}; // lost the Lease or stopping: the new leader writes from here
      await this.write({ ...obj, status });
      return {};
    } finally {
      this.stats.lastPassMs = this.clock.now() - started;
      this.onPass?.(this.stats.lastPassMs / 1000);
    }
  }

  private currentSnapshot(): Snapshot {
    if (this.snapshot?.version === this.version) return this.snapshot.value;
    const view: ClusterView = {
      nodes: [...this.nodes.store.values()].map((n) => ({
        name: n.metadata?.name ?? '',
        labels: ((n.metadata as { labels?: Labels } | undefined)?.labels ?? {}) as Labels,
      })),
      statuses: new Map([...this.statuses.store.values()].filter((s) => s.status).map((s) => [s.metadata.name, s.status as NodeStatusDoc])),
    };
    // Each policy is validated once per change: its errors feed its own status, the valid ones the conflicts.
    const checked = new Map([...this.policies.store.values()].map((obj) => [obj.metadata.name, { obj, ...validPolicies([obj]) }]));
    const conflicts = conflictsByPolicy(
      [...checked.values()].flatMap((c) => c.policies),
      view.nodes,
    );
    const value = { view, checked, conflicts };
    this.snapshot = { version: this.version, value };
    return value;
  }

  /** The write, or why it is not retried (terminal, or the policy is gone); a failure worth retrying throws. */
  private async write(obj: CustomObject): Promise<void> {
    const name = obj.metadata.name;
    const resourceVersion = obj.metadata.resourceVersion;
    try {
      await this.api.replaceCustomStatus(POLICY_RESOURCE.plural, obj);
      this.stats.writes++;
      this.forget(name);
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) return void this.forget(name); // gone: its delete event follows
      if (isTerminal(code)) {
        this.refused.set(name, { resourceVersion, status: obj.status as PolicyStatusDoc });
        this.log.error({ policy: name, resourceVersion, code, err: errorText(err) }, 'the API refused the policy status; not retrying until it changes');
        return;
      }
      this.failedAt.set(name, resourceVersion);
      throw err;
    }
  }

  private failed(name: string, err: unknown, retryInMs: number): void {
    const code = statusCode(err);
    const fields = { policy: name, code, err: errorText(err), failures: this.queue.failures(name), retryInMs };
    // 409: our copy is older than the server's; its watch event usually brings the new one before the retry.
    if (code === 409) this.log.debug(fields, 'the policy changed while its status was written; retrying');
    else this.log.error(fields, 'could not write the policy status; retrying');
  }

  /** Nothing left to retry for the policy. */
  private forget(name: string): QueueRunResult {
    this.failedAt.delete(name);
    this.refused.delete(name);
    return {};
  }
}

/**
 * A 4xx says the request itself is wrong, and sending it again cannot help;
 * except a conflict (409), throttling (429), and what is the client's or the
 * moment's, not the request's: expired credentials (401: the service account
 * token is rotated and re-read), a request timeout (408), and a refusal by
 * RBAC (403: a role bound after the controller started, as during an install
 * or upgrade, changes no object the controller watches).
 */
function isTerminal(code: number | undefined): boolean {
  return code !== undefined && code >= 400 && code < 500 && ![401, 403, 408, 409, 429].includes(code);
}

/** A status without its conditions' transition times: a status never written gets new ones at every pass. */
function untimed(status: PolicyStatusDoc): unknown {
  return { ...status, conditions: status.conditions.map(({ lastTransitionTime: _, ...rest }) => rest) };
}

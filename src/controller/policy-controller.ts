// The cluster-wide view: watches policies, node statuses and nodes, and keeps
// each ConntrackPolicy's status (selected / in sync / drifted / failed,
// Ready, Degraded, Conflict, Rejected). Only the leader writes; it writes a
// policy's status only when it changed.
// A write that fails is retried as controller-runtime retries a reconcile:
// per policy, with exponential backoff (forgotten on success); a 4xx that
// blames the request body (422 Invalid, 400: see isTerminal) is terminal: the
// same write would fail the same way, so it waits until the policy changes or
// the status to write does. A change of the policy (a new resourceVersion, as
// a watch event re-queues an object at once) is tried at its next pass anyway.
import { isDeepStrictEqual } from 'node:util';
import { Backoff, type BackoffPolicy } from '../backoff.js';
import { POLICY_RESOURCE, STATUS_RESOURCE } from '../api/v1alpha1/names.js';
import type { ClusterApi, CustomObject } from '../kube/cluster-api.js';
import { Reflector, type KubeObject, type ReflectorTiming } from '../kube/reflector.js';
import type { Log } from '../logger.js';
import { validPolicies } from '../policy/load.js';
import type { Labels } from '../policy/select.js';
import type { Condition } from '../report/conditions.js';
import { buildPolicyStatus, conflictsByPolicy, type ClusterView } from '../report/policy-status.js';
import type { NodeStatusDoc, PolicyStatusDoc } from '../api/v1alpha1/status.js';
import { SerialTask } from '../serial-task.js';
import { errorText, statusCode } from '../errors.js';
import { realTimers, type Timers } from './leader-election.js';

const DEBOUNCE_MS = 500;
/**
 * controller-runtime starts at 5 ms and caps at 1000 s, for reconciles that
 * are cheap and many. Here a retry is a whole pass (every policy's status
 * recomputed, the due ones written) and the writes are a handful of small
 * PUTs: 1 s first, doubling to 2 min, keeps a failing API from being hammered
 * while a status is stale at most ~3 min (2 min + jitter) after the API
 * recovers. The jitter (up to +50%) spreads policies that failed together.
 * controller-runtime's overall bucket limiter has its counterpart in the
 * debounced, serial passes (at most two a second).
 */
export const WRITE_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 120_000, jitter: 0.5 };

/** The controller's timers and jitter source; injectable so tests can run it on a fake clock. */
interface ControllerClock extends Timers {
  random(): number;
}

/** A policy whose last status write failed: when to try again, and the resourceVersion that failed. */
interface HeldWrite {
  retryAt: number;
  resourceVersion: string | undefined;
  /** A terminal refusal: the status the API refused; another status is another request, tried at once. */
  refused?: unknown;
}

export class PolicyController {
  private readonly policies: Reflector<CustomObject>;
  private readonly statuses: Reflector<CustomObject>;
  private readonly nodes: Reflector<KubeObject>;
  private pending: unknown = null;
  private retryTimer: unknown = null;
  private retryTimerAt = Infinity;
  private leading = false;
  private stopped = false;
  /** Failures in a row per policy name, and of the pass as a whole under PASS. */
  private readonly failures: Backoff;
  private readonly held = new Map<string, HeldWrite>();
  private passRetryAt = Infinity;
  private readonly passes = new SerialTask(
    () => this.pass(),
    () => this.leading,
    (err) => {
      const delay = this.failures.next(PASS);
      this.log.error({ err: errorText(err), retryInMs: delay }, 'policy status pass failed; retrying');
      this.passRetryAt = this.nowMs() + delay;
      this.armRetry();
    },
  );
  /** Writes made, for the benchmark and the tests. */
  readonly stats = { passes: 0, writes: 0, lastPassMs: 0 };

  constructor(
    private readonly api: ClusterApi,
    timing: ReflectorTiming,
    private readonly log: Log,
    private readonly now: () => Date,
    private readonly onPass?: (seconds: number) => void,
    private readonly clock: ControllerClock = { ...realTimers, random: Math.random },
  ) {
    this.failures = new Backoff(WRITE_BACKOFF, () => this.nowMs(), clock.random);
    const changed = () => this.schedule();
    this.policies = new Reflector(api.customListWatch(POLICY_RESOURCE.plural), changed, timing, log);
    this.statuses = new Reflector(api.customListWatch(STATUS_RESOURCE.plural), changed, timing, log);
    this.nodes = new Reflector(api.nodeListWatch(), changed, timing, log);
  }

  start(): void {
    this.policies.start();
    this.statuses.start();
    this.nodes.start();
  }

  async stop(): Promise<void> {
    this.stopped = true; // the elector may still report leadership while it shuts down: no pass after this
    this.clock.clearTimeout(this.pending);
    this.clock.clearTimeout(this.retryTimer);
    this.pending = this.retryTimer = null;
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
    this.pending = this.clock.setTimeout(() => {
      this.pending = null;
      this.passes.trigger();
    }, DEBOUNCE_MS);
  }

  /** One timer, for the earliest held write or failed pass that is due. */
  private armRetry(): void {
    const due = Math.min(this.passRetryAt, ...[...this.held.values()].map((h) => h.retryAt));
    if (due === this.retryTimerAt || this.stopped) return;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryTimerAt = due;
    if (due === Infinity) return;
    this.retryTimer = this.clock.setTimeout(
      () => {
        this.retryTimer = null;
        this.retryTimerAt = Infinity;
        this.passes.trigger();
      },
      Math.max(due - this.nowMs(), 0),
    );
  }

  private nowMs(): number {
    return this.now().getTime();
  }

  /** Compute every policy's status and write the ones that changed. */
  async pass(): Promise<void> {
    // Before every cache has listed once, "no nodes" or "no statuses" would be a lie written to every policy;
    // the last cache to list schedules the pass that counts.
    if (![this.policies, this.statuses, this.nodes].every((r) => r.hasSynced)) return;
    this.passRetryAt = Infinity;
    const started = Date.now();
    const view: ClusterView = {
      nodes: [...this.nodes.store.values()].map((n) => ({
        name: n.metadata?.name ?? '',
        labels: ((n.metadata as { labels?: Labels } | undefined)?.labels ?? {}) as Labels,
      })),
      statuses: new Map([...this.statuses.store.values()].filter((s) => s.status).map((s) => [s.metadata.name, s.status as NodeStatusDoc])),
    };
    const objects = [...this.policies.store.values()];
    // Each policy is validated once a pass: its errors feed its own status, the valid ones the conflicts.
    const checked = objects.map((obj) => ({ obj, ...validPolicies([obj]) }));
    const conflicts = conflictsByPolicy(
      checked.flatMap((c) => c.policies),
      view.nodes,
    );
    const now = this.now();
    this.dropGone(objects);
    for (const { obj, errors } of checked) {
      const name = obj.metadata.name;
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
      if (isDeepStrictEqual(status, obj.status)) {
        this.forget(name); // nothing to write: as good as a write that succeeded
        continue;
      }
      const held = this.held.get(name);
      const sameRequest = held?.refused === undefined || isDeepStrictEqual(untimed(held.refused as PolicyStatusDoc), untimed(status));
      if (held && held.resourceVersion === obj.metadata.resourceVersion && held.retryAt > now.getTime() && sameRequest) continue;
      if (!this.leading) return; // lost the Lease mid-pass: the new leader writes from here
      await this.write({ ...obj, status });
    }
    this.failures.forget(PASS);
    this.armRetry();
    this.stats.passes++;
    this.stats.lastPassMs = Date.now() - started;
    this.onPass?.(this.stats.lastPassMs / 1000);
  }

  private async write(obj: CustomObject): Promise<void> {
    const name = obj.metadata.name;
    try {
      await this.api.replaceCustomStatus(POLICY_RESOURCE.plural, obj);
      this.stats.writes++;
      this.forget(name);
    } catch (err) {
      this.failed(obj, err);
    }
  }

  private failed(obj: CustomObject, err: unknown): void {
    const name = obj.metadata.name;
    const resourceVersion = obj.metadata.resourceVersion;
    const code = statusCode(err);
    if (code === 404) {
      this.forget(name); // gone: its delete event follows
      return;
    }
    if (isTerminal(code)) {
      this.held.set(name, { retryAt: Infinity, resourceVersion, refused: obj.status });
      this.log.error({ policy: name, resourceVersion, code, err: errorText(err) }, 'the API refused the policy status; not retrying until it changes');
      return;
    }
    const delay = this.failures.next(name);
    this.held.set(name, { retryAt: this.nowMs() + delay, resourceVersion });
    const fields = { policy: name, code, err: errorText(err), failures: this.failures.failureCount(name), retryInMs: delay };
    // 409: our copy is older than the server's; its watch event usually brings the new one before the retry.
    if (code === 409) this.log.debug(fields, 'the policy changed while its status was written; retrying');
    else this.log.error(fields, 'could not write the policy status; retrying');
  }

  private forget(name: string): void {
    this.held.delete(name);
    this.failures.forget(name);
  }

  /** Policies deleted meanwhile keep no backoff state. */
  private dropGone(objects: readonly CustomObject[]): void {
    const names = new Set(objects.map((o) => o.metadata.name));
    for (const name of this.held.keys()) if (!names.has(name)) this.forget(name);
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

/** The pass's own key in the failure counts: not a valid policy name (a DNS subdomain). */
const PASS = '(pass)';

// One level-based reconcile pass (controller-runtime's contract): re-read the
// node every time, plan, and in Enforce write, then observe again to verify.
// Two passes in a row: the second writes nothing. DryRun only plans: drift is
// a move away from what we applied, so a value we never wrote is not drift.
import { isDeepStrictEqual } from 'node:util';
import type { Host } from '../kernel/host.js';
import { ForeignObjectError, type NotrackBackend, type NotrackCheck } from '../kernel/notrack/backend.js';
import type { DesiredState, PolicyMode } from '../policy/types.js';
import type { BaselineStore } from './baseline-store.js';
import { CorrectionGuard, detectDrift, type DriftRecord, type WriterFacts } from './drift.js';
import { Executor, type ExecutionResult } from './executor.js';
import type { ObservedState } from '../kernel/observed-state.js';
import { BUCKETS_KEY, givesBack, NOTRACK_KEY, plan, type Action, type Baseline, type NotApplicable, type Plan } from './planner.js';
import { restoreBaseline, type RestoreResult } from './restore.js';
import type { NatGuard, WithheldRule } from './nat-guard.js';
import { errorText } from '../errors.js';
import type { Log } from '../logger.js';

export interface ReconcilerDeps {
  observe: () => Promise<ObservedState>;
  /** Where the executor writes, and the clock of durations and the correction guard. */
  host: Pick<Host, 'files' | 'paths' | 'clock'>;
  backend: NotrackBackend | null;
  baselineStore: BaselineStore;
  logger?: Log;
  /** Who else writes these keys here (kube-proxy running, /etc/sysctl.d keys); none known when absent. */
  writerFacts?: () => Promise<WriterFacts>;
  /** Defaults to 3 corrections per key in 10 minutes. */
  guard?: CorrectionGuard;
  /** Runs a writing pass exclusively (one writer per state dir); DryRun passes take no lock. */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Withholds NOTRACK rules that a NAT rule on the node would be bypassed by; none checked when absent (unit tests). */
  natGuard?: Pick<NatGuard, 'judge'>;
}

export interface ReconcileResult {
  mode: PolicyMode;
  /** What this pass found to do (Enforce: without keys we stopped fighting over). */
  plan: Plan;
  /** Enforce with something to write. */
  execution?: ExecutionResult;
  /** Where the node had moved away from what we applied (Enforce only: DryRun applies nothing, so nothing drifts). */
  drift: DriftRecord[];
  notApplicable: NotApplicable[];
  /** The node matches the policy after this pass (Enforce: verified by reading again). */
  inSync: boolean;
  durationMs: number;
  /** NOTRACK rules we own now; undefined when not checked (no backend, or no rules wanted or owned). */
  notrackOwnedRules?: number;
  /** NOTRACK rules of the policy left out (a NAT rule here rewrites their packets, or the NAT rules are unreadable). */
  withheld: WithheldRule[];
}

const ACCEPT_UNTRACKED_KEY = 'acceptUntracked';
const ACCEPT_UNTRACKED_NFT = 'the nftables backend cannot accept untracked packets ahead of your own input chain; add "ct state untracked accept" to it';

/** One look at the node: the kernel, our NOTRACK rules, and why those could not be read if so. */
interface Seen {
  observed: ObservedState;
  notrack: NotrackCheck | null;
  notrackError?: string;
}

/** The plan, with the reasons the planner cannot know: NOTRACK rules unreadable here, acceptUntracked unsupported by the backend. */
function planWith(desired: DesiredState, seen: Seen, baseline: Baseline, acceptUnsupported: boolean): Plan {
  const p = plan(desired, seen.observed, baseline, seen.notrack);
  const notApplicable = [
    ...p.notApplicable.map((n) => (seen.notrackError && n.key === NOTRACK_KEY ? { ...n, reason: seen.notrackError } : n)),
    ...(acceptUnsupported ? [{ key: ACCEPT_UNTRACKED_KEY, desired: 1, reason: ACCEPT_UNTRACKED_NFT }] : []),
  ];
  return { ...p, notApplicable, inSync: p.inSync && notApplicable.length === 0 };
}

/** What every result of one pass shares. */
interface Pass {
  mode: PolicyMode;
  started: number;
  /** The plan before the correction guard left any key alone: its notApplicable is the pass's. */
  full: Plan;
  withheld: WithheldRule[];
}

/** The plan without the keys we stopped fighting another writer over. */
function leaveFightsAlone(full: Plan, drift: readonly DriftRecord[]): Plan {
  const leftAlone = new Set(drift.filter((d) => d.fighting).map((d) => d.key));
  return { ...full, actions: full.actions.filter((a) => !leftAlone.has(a.key)) };
}

/** A value as the baseline file keeps it (JSON: undefined fields dropped), to compare with what was kept. */
function asStored(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}

const NOOP_LOGGER: Log = { debug() {}, info() {}, warn() {}, error() {} };

/** Keys we changed before: moving away from desired is drift, not a first apply. */
function appliedKeys(baseline: Baseline): Set<string> {
  const keys = new Set(Object.keys(baseline.values));
  if (baseline.notrackOwned) keys.add(NOTRACK_KEY);
  return keys;
}

export class Reconciler {
  private readonly executor: Executor;
  private readonly guard: CorrectionGuard;
  private readonly logger: Log;
  private previousDrift: DriftRecord[] = [];
  /** The withheld rules last logged, as [rule, message] pairs. */
  private previousWithheld: unknown[] = [];
  private applied: { sysctls: Record<string, number>; buckets?: number } = { sysctls: {} };

  constructor(private readonly deps: ReconcilerDeps) {
    this.executor = new Executor(deps.host, deps.backend);
    this.guard = deps.guard ?? new CorrectionGuard({ clock: deps.host.clock });
    this.logger = deps.logger ?? NOOP_LOGGER;
  }

  async reconcile(policy: DesiredState, mode: PolicyMode): Promise<ReconcileResult> {
    const run = () => this.reconcileNow(policy, mode);
    return mode === 'Enforce' ? this.exclusively(run) : run();
  }

  /** One writer per state dir: a writing pass or a restore holds the lock, when one is given. */
  private exclusively<T>(run: () => Promise<T>): Promise<T> {
    return this.deps.exclusive ? this.deps.exclusive(run) : run();
  }

  private async reconcileNow(policy: DesiredState, mode: PolicyMode): Promise<ReconcileResult> {
    const started = this.deps.host.clock();
    const { desired, withheld, acceptUnsupported } = await this.desiredHere(policy);
    const baseline = await this.deps.baselineStore.load();
    const seen = await this.look(desired, baseline);
    const full = planWith(desired, seen, baseline, acceptUnsupported);
    const pass: Pass = { mode, started, full, withheld };
    // DryRun: the plan, nothing else; the Enforce passes' drift (and its `since`) is left as it was.
    if (mode === 'DryRun') return this.result(pass, { plan: full, drift: [], inSync: full.inSync, owned: seen.notrack?.ownedRules });

    const drift = await this.findDrift(desired, baseline, seen, started);
    this.reportDrift(drift);
    const todo = leaveFightsAlone(full, drift);
    if (todo.actions.length === 0) {
      this.remember(desired, full.notApplicable);
      return this.result(pass, { plan: todo, drift, inSync: full.inSync, owned: seen.notrack?.ownedRules });
    }
    const execution = await this.apply(desired, todo.actions, drift);
    if (!execution.ok) return this.result(pass, { plan: todo, drift, execution, inSync: false, owned: seen.notrack?.ownedRules });
    const after = await this.verify(desired, todo.actions, seen, acceptUnsupported);
    this.remember(desired, after.plan.notApplicable);
    return this.result(pass, { plan: todo, drift, execution, inSync: after.plan.inSync, owned: after.seen.notrack?.ownedRules });
  }

  /** The policy as this node can take it: NOTRACK rules a NAT rule here would bypass left out, acceptUntracked off where unsupported. */
  private async desiredHere(policy: DesiredState): Promise<{ desired: DesiredState; withheld: WithheldRule[]; acceptUnsupported: boolean }> {
    const acceptUnsupported = policy.acceptUntracked && this.deps.backend?.canAcceptUntracked === false;
    // Rules a NAT rule here would be bypassed by are not planned at all: one applied earlier is removed by the sync.
    const nat = this.deps.natGuard ? await this.deps.natGuard.judge(policy.notrack) : { allowed: policy.notrack, withheld: [] };
    this.logWithheld(nat.withheld);
    const desired = { ...policy, notrack: nat.allowed, ...(acceptUnsupported ? { acceptUntracked: false } : {}) };
    return { desired, withheld: nat.withheld, acceptUnsupported };
  }

  /** Where the node moved away from what we applied, each marked when the correction guard says we are fighting another writer. */
  private async findDrift(desired: DesiredState, baseline: Baseline, seen: Seen, now: number): Promise<DriftRecord[]> {
    // A policy edit of the NOTRACK rules is a change, not drift.
    const notrackUnchanged = isDeepStrictEqual(
      asStored(baseline.notrackApplied ?? null),
      asStored({ rules: desired.notrack, acceptUntracked: desired.acceptUntracked }),
    );
    const driftWith = (facts: WriterFacts) =>
      detectDrift({
        desired: this.lastApplied(desired),
        observed: seen.observed,
        notrack: notrackUnchanged ? seen.notrack : null,
        previous: this.previousDrift,
        facts,
        now,
        keys: appliedKeys(baseline),
      });
    // Who else writes (a scan of every process for kube-proxy) is only worth asking when something drifted.
    let drift = driftWith({ kubeProxyRunning: false });
    if (drift.length > 0 && this.deps.writerFacts) drift = driftWith(await this.deps.writerFacts());
    for (const d of drift) if (this.guard.fighting(d.key, d.desired)) d.fighting = true;
    return drift;
  }

  /** Log a drift once when it appears or when we stop fighting it, not every pass. */
  private reportDrift(drift: DriftRecord[]): void {
    const before = new Map(this.previousDrift.map((d) => [d.key, d]));
    const news = drift.filter((d) => before.get(d.key)?.since !== d.since || (d.fighting && !before.get(d.key)?.fighting));
    if (news.length > 0) this.logger.warn({ drift: news }, 'conntrack settings drifted');
    this.previousDrift = drift;
  }

  /** Record what the keys were, write, and on success keep the books (what we own now, what we corrected); rolled back on failure. */
  private async apply(desired: DesiredState, actions: Action[], drift: DriftRecord[]): Promise<ExecutionResult> {
    await this.deps.baselineStore.recordBefore(actions);
    const execution = await this.executor.execute(actions);
    if (!execution.ok) {
      this.logger.error(
        { failed: execution.failed, rolledBack: execution.rolledBack.length, rollbackErrors: execution.rollbackErrors },
        'apply failed, rolled back',
      );
      return execution;
    }
    await this.afterApply(desired, actions, drift);
    this.logger.info({ applied: execution.applied.map((a) => a.key) }, 'applied');
    return execution;
  }

  /** Read the node again after a write and plan against it: in sync only if the kernel now shows the policy. */
  private async verify(desired: DesiredState, actions: Action[], seen: Seen, acceptUnsupported: boolean): Promise<{ plan: Plan; seen: Seen }> {
    const wroteNotrack = actions.some((a) => a.key === NOTRACK_KEY);
    const baseline = await this.deps.baselineStore.load();
    const again = wroteNotrack ? await this.look(desired, baseline) : { ...seen, observed: await this.deps.observe() };
    return { plan: planWith(desired, again, baseline, acceptUnsupported), seen: again };
  }

  private result(
    pass: Pass,
    r: { plan: Plan; drift: DriftRecord[]; execution?: ExecutionResult; inSync: boolean; owned: number | undefined },
  ): ReconcileResult {
    return {
      mode: pass.mode,
      plan: r.plan,
      ...(r.execution ? { execution: r.execution } : {}),
      drift: r.drift,
      notApplicable: pass.full.notApplicable,
      inSync: r.inSync,
      durationMs: this.deps.host.clock() - pass.started,
      ...(r.owned === undefined ? {} : { notrackOwnedRules: r.owned }),
      withheld: pass.withheld,
    };
  }

  /** Say so when the set of withheld rules (or why) changes, not every pass. */
  private logWithheld(withheld: WithheldRule[]): void {
    const seen = withheld.map((w) => [w.rule, w.message]);
    if (isDeepStrictEqual(seen, this.previousWithheld)) return;
    this.previousWithheld = seen;
    if (withheld.length === 0) this.logger.info({}, 'no NOTRACK rule is withheld');
    else this.logger.warn({ withheld: withheld.map((w) => ({ rule: w.rule, reason: w.reason, message: w.message })) }, 'NOTRACK rules withheld');
  }

  /** The values this reconciler last left the node at (the policy's, until the first pass succeeds). */
  private lastApplied(desired: DesiredState): DesiredState {
    const sysctls = Object.fromEntries(Object.entries(desired.sysctls).map(([k, v]) => [k, this.applied.sysctls[k] ?? v]));
    const buckets = this.applied.buckets ?? desired.buckets;
    return { ...desired, sysctls, ...(buckets === undefined ? {} : { buckets }) };
  }

  /** After a pass that left the node as the policy says, except for the keys it could not change here. */
  private remember(desired: DesiredState, notApplicable: readonly NotApplicable[]): void {
    const skipped = new Set(notApplicable.map((n) => n.key));
    for (const [key, value] of Object.entries(desired.sysctls)) if (!skipped.has(key)) this.applied.sysctls[key] = value;
    if (desired.buckets !== undefined && !skipped.has(BUCKETS_KEY)) this.applied.buckets = desired.buckets;
  }

  /** Put the baseline back and remove our NOTRACK chains. */
  async restore(): Promise<RestoreResult> {
    this.previousDrift = [];
    this.applied = { sysctls: {} };
    const { observe, backend, baselineStore } = this.deps;
    return this.exclusively(() => restoreBaseline({ observe, backend, baselineStore, executor: this.executor }));
  }

  /**
   * Read the node. The NOTRACK check (one iptables-save / nft call) is made only
   * when the policy has rules or we own chains: an in-sync pass of sysctls alone
   * spawns no process.
   */
  private async look(desired: DesiredState, baseline: Baseline): Promise<Seen> {
    const observed = await this.deps.observe();
    const backend = this.deps.backend;
    const involved = desired.notrack.length > 0 || desired.acceptUntracked || baseline.notrackOwned;
    if (!backend || !involved) return { observed, notrack: null };
    try {
      return { observed, notrack: await backend.check({ rules: desired.notrack, acceptUntracked: desired.acceptUntracked }) };
    } catch (err) {
      // Rules we cannot read (not root, a missing tool) are one key we cannot manage, not a failed pass.
      // A chain or table of someone else's with our name is a refusal, not an unreadable firewall: say which.
      const why = err instanceof ForeignObjectError ? errorText(err) : `cannot read the firewall rules here: ${errorText(err)}`;
      return { observed, notrack: null, notrackError: why };
    }
  }

  private async afterApply(desired: DesiredState, actions: Action[], drift: DriftRecord[]): Promise<void> {
    const store = this.deps.baselineStore;
    for (const action of actions) {
      if (action.kind === 'notrack-sync') await store.recordNotrackApplied(action.to);
    }
    // Keys put back to their baseline (the policy no longer names them) are no longer ours.
    const released = actions.filter((a) => givesBack(a, desired)).map((a) => a.key);
    if (released.length > 0) await store.clear(released);
    const corrected = new Set(actions.map((a) => a.key));
    for (const d of drift) if (corrected.has(d.key)) this.guard.recordCorrection(d.key, d.desired);
  }
}

// Put the node back as it was before us: every baseline value through the
// executor (read back, all-or-nothing) and our NOTRACK chains removed. Used by
// `restore`, a removed policy, a node no longer selected, and an agent start
// with no policy.
import type { NotrackBackend } from '../kernel/notrack/backend.js';
import type { DesiredState } from '../policy/types.js';
import type { BaselineStore } from './baseline-store.js';
import type { ExecutionResult, Executor } from './executor.js';
import type { ObservedState } from '../kernel/observed-state.js';
import { NOTRACK_KEY, plan, type Plan } from './planner.js';

export interface RestoreDeps {
  observe: () => Promise<ObservedState>;
  executor: Executor;
  backend: NotrackBackend | null;
  baselineStore: BaselineStore;
}

export interface RestoreResult {
  ok: boolean;
  plan: Plan;
  /** Absent when there was nothing to write. */
  execution?: ExecutionResult;
}

/** Nothing of ours: every key the baseline knows goes back, no NOTRACK rules. */
const NOTHING: DesiredState = { sysctls: {}, notrack: [], acceptUntracked: false };

export async function restoreBaseline(deps: RestoreDeps): Promise<RestoreResult> {
  const baseline = await deps.baselineStore.load();
  const observed = await deps.observe();
  // Only ask the firewall when we own chains: a host without iptables/nft tools can still be restored.
  const notrack = deps.backend && baseline.notrackOwned ? await deps.backend.check({ rules: [], acceptUntracked: false }) : null;
  const restorePlan = plan(NOTHING, observed, baseline, notrack);
  const execution = restorePlan.actions.length > 0 ? await deps.executor.execute(restorePlan.actions) : undefined;
  if (execution && !execution.ok) return { ok: false, plan: restorePlan, execution };
  // Keys that cannot be put back (now read-only, gone) stay in the baseline for a later try.
  const keep = new Set(restorePlan.notApplicable.map((n) => n.key));
  const restored = [...Object.keys(baseline.values), NOTRACK_KEY].filter((k) => !keep.has(k));
  await (keep.size === 0 ? deps.baselineStore.clear() : deps.baselineStore.clear(restored));
  return { ok: keep.size === 0, plan: restorePlan, ...(execution ? { execution } : {}) };
}

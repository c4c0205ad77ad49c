// plan, apply and restore on this host, from a policy file.
// Bad input (an invalid file, a guardrail refusal, a conflict) is reported,
// exit code 1, and nothing is written: validate everything first.
import type { Config } from '../config.js';
import { describeRule } from '../kernel/notrack/describe-rule.js';
import { readHostReading } from '../kernel/snapshot.js';
import { effectivePolicy, type EffectivePolicy } from '../policy/effective.js';
import { formatPolicyErrors } from '../policy/errors.js';
import { parsePolicyDocuments, POLICY_LIMITS } from '../policy/load.js';
import { readRegularFile, RefusedFile } from '../regular-file.js';
import { nodeFacts, runsKubernetes } from '../kernel/node-facts.js';
import { guardrailCidrs, nodeCidrs } from '../policy/cluster-cidrs.js';
import type { DesiredState, DesiredNotrackRule } from '../policy/types.js';
import { holdsChanges, NOTRACK_KEY } from '../reconcile/planner.js';
import { describeAction, describeNotApplicable, notrackChanges, planJson, renderPlanText, type PlanView } from '../report/plan-text.js';
import type { NotrackBackend } from '../kernel/notrack/backend.js';
import type { ReconcileResult } from '../reconcile/reconciler.js';
import { buildEngine, type Engine } from './engine.js';
import { InputError } from './input-error.js';
import { renderData } from './output.js';
import type { Host } from '../kernel/host.js';
import { errnoCode, errorText } from '../errors.js';

export async function loadPolicyFile(path: string) {
  let text: string;
  try {
    text = (await readRegularFile(path, POLICY_LIMITS.maxBytes)).text;
  } catch (err) {
    if (err instanceof RefusedFile) throw new InputError(err.message);
    throw new InputError(`${path}: cannot read the policy file (${errnoCode(err) ?? errorText(err)})`);
  }
  const parsed = parsePolicyDocuments(text, path);
  if ('errors' in parsed) throw new InputError(`invalid policy:\n${formatPolicyErrors(parsed.errors)}`);
  if (parsed.policies.length === 0) throw new InputError(`${path}: no ConntrackPolicy in the file`);
  return parsed.policies;
}

async function effectiveHere(config: Config, host: Host): Promise<EffectivePolicy> {
  const policies = await loadPolicyFile(config.policyFile!);
  // autoSize fits max to the fullest namespace, pods' included, as the agent does.
  const { snapshot: s, census } = await readHostReading(host);
  // No cluster here: the flags' ranges, and none needed unless kubelet or kube-proxy runs on this host.
  return effectivePolicy(policies, config.nodeLabels, nodeFacts(s, guardrailCidrs(nodeCidrs(config, null, runsKubernetes(s))), census));
}

/** The rules that are planned: withheld ones are shown apart, not as changes. */
function withoutWithheld(wanted: DesiredState, withheld: ReconcileResult['withheld']): DesiredState {
  const names = new Set(withheld.map((w) => w.rule));
  return { ...wanted, notrack: wanted.notrack.filter((r) => !names.has(r.name)) };
}

/** How this host's backend shows rules in the plan: in its own syntax. */
function shownBy(backend: NotrackBackend) {
  return { canAcceptUntracked: backend.canAcceptUntracked, describe: (rule: DesiredNotrackRule) => describeRule(backend.name, rule) };
}

async function view(
  config: Config,
  e: EffectivePolicy,
  engine: Engine,
  r: Pick<ReconcileResult, 'notApplicable' | 'withheld'> & { plan: { actions: PlanView['actions'] } },
  wanted: DesiredState,
): Promise<PlanView> {
  const actions = r.plan.actions;
  const baseline = await engine.baselineStore.load();
  const notrackAction = actions.some((a) => a.kind === 'notrack-sync' || a.kind === 'notrack-remove');
  return {
    node: config.nodeName,
    policies: e.selected,
    mode: e.mode,
    actions,
    notrackChanges: notrackAction ? notrackChanges(withoutWithheld(wanted, r.withheld), baseline, shownBy(engine.backend)) : [],
    notApplicable: r.notApplicable,
    withheld: r.withheld,
    conflicts: e.conflicts,
    refused: e.refused,
  };
}

async function print(config: Config, v: PlanView, out: NodeJS.WritableStream): Promise<void> {
  out.write(config.output === 'text' ? renderPlanText(v) : await renderData(planJson(v), config.output));
}

/** Print what the whole policy (Enforce and DryRun fields alike) would change; writes nothing. Returns the number of changes. */
async function showPlan(config: Config, e: EffectivePolicy, engine: Engine, out: NodeJS.WritableStream): Promise<number> {
  const r = await engine.reconciler.reconcile(e.desired, 'DryRun');
  await print(config, await view(config, e, engine, r, e.desired), out);
  return r.plan.actions.length;
}

/** Exit 2 when the host differs from the policy (as diff does), 0 when it matches. */
export async function runPlan(config: Config, host: Host, out: NodeJS.WritableStream): Promise<number> {
  const e = await effectiveHere(config, host);
  return (await showPlan(config, e, await buildEngine(config, host), out)) > 0 ? 2 : 0;
}

export async function runApply(config: Config, host: Host, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const e = await effectiveHere(config, host);
  const engine = await buildEngine(config, host);
  if (e.refused.length || e.conflicts.length) {
    await showPlan(config, e, engine, out);
    err.write('not applied: fix the refused or conflicting fields above (nothing was written)\n');
    return 1;
  }
  // The rule of the agent too: what no Enforce policy asks for any more is given back; DryRun fields are only shown.
  const dryRunOnly = e.selected.length > 0 && e.mode === 'DryRun';
  const dryRunNote = 'the policy is in DryRun mode: its changes were not written (set spec.mode: Enforce to apply)\n';
  const before = await engine.baselineStore.load();
  if (dryRunOnly && !holdsChanges(before)) {
    await showPlan(config, e, engine, out);
    err.write(dryRunNote);
    return 0;
  }
  const r = await engine.reconciler.reconcile(e.enforced, 'Enforce');
  if (!dryRunOnly) {
    const v = await view(config, e, engine, r, e.enforced);
    v.notrackChanges = r.plan.actions.some((a) => a.key === 'notrack')
      ? notrackChanges(withoutWithheld(e.enforced, r.withheld), before, shownBy(engine.backend))
      : [];
    await print(config, v, out);
  }
  if (r.execution && !r.execution.ok) {
    const f = r.execution.failed;
    err.write(`apply failed at ${f ? describeAction(f.action) : '?'}: ${f?.error ?? 'unknown error'}\n`);
    err.write(
      `rolled back ${r.execution.rolledBack.length} change(s)${r.execution.rollbackErrors.length ? `; rollback errors: ${r.execution.rollbackErrors.map((x) => x.error).join('; ')}` : ''}\n`,
    );
    return 1;
  }
  if (dryRunOnly) {
    // stdout stays one document (the plan, for -o json); what was given back goes to stderr.
    for (const a of r.execution?.applied ?? []) err.write(`gave back (no Enforce policy asks for it any more): ${describeAction(a)}\n`);
    for (const n of r.notApplicable) err.write(`cannot give back ${describeNotApplicable(n)}\n`);
    await showPlan(config, e, engine, out);
    err.write(dryRunNote);
    return 0;
  }
  if (r.execution) out.write(`applied ${r.execution.applied.length} change(s)${r.inSync ? '; the node matches the policy' : ''}\n`);
  // NOTRACK rules asked for and not applied (a name collision, no readable firewall) are a failure, not "left alone".
  const notrack = r.notApplicable.find((n) => n.key === NOTRACK_KEY);
  if (notrack && (e.enforced.notrack.length > 0 || e.enforced.acceptUntracked)) {
    err.write(`NOTRACK rules not applied: ${notrack.reason}\n`);
    return 1;
  }
  // Withheld rules are the safe outcome, but the host does not match the policy: say so in the exit code too.
  if (r.withheld.length > 0) {
    for (const w of r.withheld) err.write(`${w.message}\n`);
    return 1;
  }
  return 0;
}

export async function runRestore(config: Config, host: Host, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const engine = await buildEngine(config, host);
  const r = await engine.reconciler.restore();
  for (const a of r.plan.actions) out.write(`  ${describeAction(a)}\n`);
  for (const n of r.plan.notApplicable) err.write(`  cannot restore ${describeNotApplicable(n)}\n`);
  if (r.execution && !r.execution.ok) {
    err.write(`restore failed: ${r.execution.failed?.error ?? 'unknown error'} (rolled back; the baseline is kept for another try)\n`);
    return 1;
  }
  out.write(r.plan.actions.length ? `restored ${r.plan.actions.length} change(s)\n` : 'nothing to restore: no change of ours is recorded\n');
  return r.ok ? 0 : 1;
}

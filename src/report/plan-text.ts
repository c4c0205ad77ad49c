// What `plan` and `apply` print: a diff an SRE reads at a glance, or the same as JSON.
// Pure: the CLI gathers the pieces (including NOTRACK rule descriptions).
import type { Conflict } from '../policy/effective.js';
import { formatPolicyErrors, type PolicyError } from '../policy/errors.js';
import type { DesiredState, DesiredNotrackRule, PolicyMode } from '../policy/types.js';
import { BUCKETS_KEY, type Action, type Baseline, type NotApplicable } from '../reconcile/planner.js';
import type { WithheldRule } from '../reconcile/nat-guard.js';
import { withheldPlanLines, withheldSection } from './notrack-withheld.js';

/** nf_conntrack_tcp_timeout_established -> "tcp established"; nf_conntrack_max -> "max". */
function keyLabel(key: string): string {
  if (key === BUCKETS_KEY) return key;
  const name = key.replace(/^nf_conntrack_/, '');
  const timeout = /^(\w+?)_timeout(?:_(\w+))?$/.exec(name);
  return timeout ? `${timeout[1]} ${timeout[2] ?? 'timeout'}` : name;
}

/** The human diff line of an action, as `plan` prints it. NOTRACK rule lines come with the action (missing/extra). */
export function describeAction(action: Action): string {
  return `${keyLabel(action.key)}  ${changeText(action)}`;
}

/** What an action changes, without the key: "120 -> 30", "sync: 2 to add, 0 to remove". */
export function changeText(action: Action): string {
  switch (action.kind) {
    case 'sysctl':
      return `${action.from} -> ${action.to}`;
    case 'buckets':
      return `${action.from} -> ${action.to} (via ${action.via})`;
    case 'notrack-sync':
      return `sync: ${action.missing.length} to add, ${action.extra.length} to remove`;
    case 'notrack-remove':
      return `remove our chains (${action.extra.length} rules)`;
  }
}

export function describeNotApplicable(item: NotApplicable): string {
  const current = item.current === undefined ? '' : ` (now ${item.current})`;
  return `${keyLabel(item.key)}  wanted ${item.desired}${current}: ${item.reason}`;
}

export interface NotrackChange {
  sign: '+' | '-' | '~';
  name: string;
  /** How the rule is put into the kernel, in the backend's syntax, e.g. "raw PREROUTING -i lo, raw OUTPUT -o lo". */
  description: string;
}

/** How the host's NOTRACK backend shows a rule: in the syntax it applies it with. */
export interface RuleDisplay {
  canAcceptUntracked: boolean;
  describe(rule: DesiredNotrackRule): string;
}

// Only the iptables backends can accept untracked packets (RuleDisplay.canAcceptUntracked), so this is iptables syntax.
const ACCEPT_UNTRACKED = 'filter INPUT, first: -m conntrack --ctstate UNTRACKED -j ACCEPT';

/** Rule-level NOTRACK diff against what we applied before. */
export function notrackChanges(wanted: DesiredState, baseline: Baseline, display: RuleDisplay): NotrackChange[] {
  const before = new Map((baseline.notrackApplied?.rules ?? []).map((r) => [r.name, r]));
  const now = new Map(wanted.notrack.map((r) => [r.name, r]));
  const out: NotrackChange[] = [];
  const hadAccept = baseline.notrackApplied?.acceptUntracked ?? false;
  if (display.canAcceptUntracked && wanted.acceptUntracked !== hadAccept)
    out.push({ sign: wanted.acceptUntracked ? '+' : '-', name: 'accept-untracked', description: ACCEPT_UNTRACKED });
  for (const r of wanted.notrack) {
    const old = before.get(r.name);
    if (!old) out.push({ sign: '+', name: r.name, description: display.describe(r) });
    else if (JSON.stringify(old) !== JSON.stringify(r)) out.push({ sign: '~', name: r.name, description: display.describe(r) });
  }
  for (const r of before.values()) if (!now.has(r.name)) out.push({ sign: '-', name: r.name, description: display.describe(r) });
  return out;
}

export interface PlanView {
  node: string;
  policies: string[];
  mode: PolicyMode;
  actions: Action[];
  notrackChanges: NotrackChange[];
  notApplicable: NotApplicable[];
  /** NOTRACK rules left out: a NAT rule here rewrites packets they would untrack (or the NAT rules are unreadable). */
  withheld: WithheldRule[];
  conflicts: Conflict[];
  refused: PolicyError[];
}

export function planJson(v: PlanView) {
  return {
    node: v.node,
    policies: v.policies,
    mode: v.mode,
    inSync: v.actions.length === 0,
    changes: v.actions.map((a) =>
      a.kind === 'sysctl' || a.kind === 'buckets'
        ? { key: a.key, from: a.from, to: a.to, ...(a.kind === 'buckets' ? { via: a.via } : {}), description: describeAction(a) }
        : { key: a.key, add: a.kind === 'notrack-sync' ? a.missing : [], remove: a.extra, description: describeAction(a) },
    ),
    notrack: v.notrackChanges,
    notApplicable: v.notApplicable,
    // The same shape as the status's notrackWithheld.
    withheld: withheldSection(v.withheld).notrackWithheld ?? [],
    conflicts: v.conflicts,
    refused: v.refused,
  };
}

export function renderPlanText(v: PlanView): string {
  const lines: string[] = [];
  if (v.policies.length === 0) return `no policy selects node ${v.node}: nothing to change.\n`;
  lines.push(`node ${v.node}, policy ${v.policies.join(', ')} (${v.mode})`);
  const values = v.actions.filter((a) => a.kind === 'sysctl' || a.kind === 'buckets');
  const notrack = v.actions.find((a) => a.kind === 'notrack-sync' || a.kind === 'notrack-remove');
  for (const a of values) lines.push(`  ${describeAction(a)}`);
  if (notrack) {
    const byRule = v.notrackChanges.map((c) => `  ${c.sign} notrack ${c.name}${c.description ? ` (${c.description})` : ''}`);
    // No rule-level change but the action exists: our chains were edited outside.
    lines.push(
      ...(byRule.length
        ? byRule
        : [
            `  ~ notrack: our chains were changed outside (${notrack.kind === 'notrack-sync' ? notrack.missing.length : 0} rule lines missing, ${notrack.extra.length} extra)`,
          ]),
    );
  }
  if (v.actions.length === 0) lines.push('  in sync: nothing to change');
  if (v.notApplicable.length) {
    lines.push('not applicable here (left alone):');
    for (const n of v.notApplicable) lines.push(`  ${describeNotApplicable(n)}`);
  }
  lines.push(...withheldPlanLines(v.withheld));
  if (v.conflicts.length) {
    lines.push('conflicts (equal priority, different values; not applied):');
    for (const c of v.conflicts) lines.push(`  ${c.field}: ${c.policies.join(', ')} set ${c.values.map((x) => JSON.stringify(x)).join(' vs ')}`);
  }
  if (v.refused.length) {
    lines.push('refused by guardrails (not applied):');
    for (const line of formatPolicyErrors(v.refused).split('\n')) lines.push(`  ${line}`);
  }
  return `${lines.join('\n')}\n`;
}

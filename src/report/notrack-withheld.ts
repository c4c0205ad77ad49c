// How withheld NOTRACK rules are reported (reconcile/nat-guard.ts decides
// them): the status's notrackWithheld list and NotrackWithheld condition, the
// ConntrackNotrackWithheld Node event, the plan's lines. Pure.
import { NodeConditions, NodeReasons, type NodeStatusDoc, type WithheldNotrackRuleDoc } from '../api/v1alpha1/status.js';
import { describeNatOverlap, ruleText } from '../reconcile/nat/describe-overlap.js';
import type { NatOverlap } from '../reconcile/nat/nat-overlap.js';
import type { WithheldRule } from '../reconcile/nat-guard.js';
import type { NodeEventIntent } from './event-intent.js';
import type { ConditionInput } from './conditions.js';

const NAT: Record<NatOverlap['nat'], 'DNAT' | 'REDIRECT' | 'SNAT' | 'MASQUERADE'> = {
  dnat: 'DNAT',
  redirect: 'REDIRECT',
  snat: 'SNAT',
  masquerade: 'MASQUERADE',
};
/** The most rules the condition message names; the status list has them all (up to its limit). */
const NAMED = 8;
const LISTED = 64;

function natRuleDoc(o: NatOverlap): NonNullable<WithheldNotrackRuleDoc['natRules']>[number] {
  const comment = o.rule.comment ?? o.via?.comment ?? o.markedBy?.comment;
  return {
    nat: NAT[o.nat],
    table: o.rule.table,
    rule: ruleText(o.rule),
    ...(comment ? { comment } : {}),
    owner: o.owner,
    ...(o.via ? { via: ruleText(o.via) } : {}),
    ...(o.markedBy ? { markedBy: ruleText(o.markedBy) } : {}),
    direction: o.direction === 'original' ? 'Original' : 'Reply',
  };
}

/** status.notrackWithheld. */
export function withheldSection(withheld: readonly WithheldRule[]): Pick<NodeStatusDoc, 'notrackWithheld'> {
  if (withheld.length === 0) return {};
  return {
    notrackWithheld: withheld.slice(0, LISTED).map((w) => ({
      rule: w.rule,
      reason: w.reason,
      message: w.message.slice(0, 4096),
      ...(w.overlaps ? { natRuleCount: w.overlaps.count, natRules: w.overlaps.first.map(natRuleDoc) } : {}),
    })),
  };
}

function messages(withheld: readonly WithheldRule[]): string {
  const named = withheld.slice(0, NAMED).map((w) => `${w.message}.`);
  const more = withheld.length > NAMED ? [`And ${withheld.length - NAMED} more (status.notrackWithheld).`] : [];
  return [...named, ...more].join(' ');
}

/** The NotrackWithheld condition; undefined withheld: the pass did not get as far as checking. */
export function withheldCondition(withheld: readonly WithheldRule[] | undefined): Omit<ConditionInput<'NotrackWithheld'>, 'observedGeneration'> {
  const type = NodeConditions.NotrackWithheld;
  const reasons = NodeReasons.NotrackWithheld;
  if (withheld === undefined)
    return { type, status: 'Unknown', reason: reasons.NotChecked, message: 'The last pass did not compare the NOTRACK rules with the NAT rules.' };
  if (withheld.length === 0) return { type, status: 'False', reason: reasons.NoneWithheld, message: 'No NOTRACK rule of the policy is withheld.' };
  const unreadable = withheld.some((w) => w.reason === reasons.NatRulesUnreadable);
  return {
    type,
    status: 'True',
    reason: unreadable ? reasons.NatRulesUnreadable : reasons.NatOverlap,
    message: `${messages(withheld)} Tracking stays on for these packets; the policy's other settings are applied.`,
  };
}

/** A Warning on the Node when a rule becomes withheld (or is withheld for another reason). */
export function withheldEvents(prev: NodeStatusDoc | null, next: NodeStatusDoc): NodeEventIntent[] {
  const before = new Map((prev?.notrackWithheld ?? []).map((w) => [w.rule, w.message]));
  const fresh = (next.notrackWithheld ?? []).filter((w) => before.get(w.rule) !== w.message);
  if (fresh.length === 0) return [];
  return [
    {
      type: 'Warning',
      reason: 'ConntrackNotrackWithheld',
      message: `On ${next.nodeName}: ${fresh.map((w) => `${w.message}.`).join(' ')} Tracking stays on for these packets; see kubectl describe conntrackstatus ${next.nodeName}.`,
    },
  ];
}

/** The plan's lines for withheld rules: one per rule, then its NAT rules. */
export function withheldPlanLines(withheld: readonly WithheldRule[]): string[] {
  if (withheld.length === 0) return [];
  return [
    'withheld (not applied; an untracked packet skips the nat table):',
    ...withheld.flatMap((w) => [
      `  ${w.rule}: ${w.reason === NodeReasons.NotrackWithheld.NatOverlap ? `overlaps ${w.overlaps?.count ?? 0} NAT rule(s) on this node` : w.message}`,
      ...(w.overlaps?.first ?? []).map((o) => `    ${o.direction === 'original' ? 'its packets' : 'replies of flows'}: ${describeNatOverlap(o)}`),
    ]),
  ];
}

// Pure: how a withheld NOTRACK rule is told in the plan, the status, the
// event and the log: which NAT rule, written by whom, reached how.
import type { NatOverlap, RuleOverlaps } from './nat-overlap.js';
import type { RuleRef } from './nat-paths.js';

const NAT_NAMES: Readonly<Record<NatOverlap['nat'], string>> = { dnat: 'DNAT', redirect: 'REDIRECT', snat: 'SNAT', masquerade: 'MASQUERADE' };

/** A rule as "CHAIN: text", without the comment and accounting matches (the comment is shown apart). */
export function ruleText(ref: RuleRef): string {
  const text = ref.text
    .replace(/ ?-m comment --comment ("(?:[^"\\]|\\.)*"|\S+)/g, '')
    .replace(/ ?-m nfacct --nfacct-name +\S+/g, '')
    .trim();
  return `${ref.chain}: ${text}`;
}

/** "DNAT in KUBE-SEP-…: -p tcp -j DNAT --to-destination 10.244.0.5:8080 (kube-proxy, "default/web:http"), reached by KUBE-NODEPORTS: …". */
export function describeNatOverlap(o: NatOverlap): string {
  const comment = o.rule.comment ?? o.via?.comment ?? o.markedBy?.comment;
  const owner = `${o.owner}${comment ? `, "${comment}"` : ''}`;
  const marked = o.markedBy ? ` for packets marked by ${ruleText(o.markedBy)}` : '';
  const via = o.via ? `, reached by ${ruleText(o.via)}` : '';
  return `${NAT_NAMES[o.nat]} in ${ruleText(o.rule)} (${owner})${marked}${via}`;
}

/** Why a NOTRACK rule is withheld, in one sentence naming the first NAT rule it overlaps. */
export function overlapMessage(rule: string, overlaps: RuleOverlaps): string {
  const first = overlaps.first[0];
  if (!first) return `NOTRACK rule ${rule} withheld`;
  const what = first.direction === 'original' ? 'packets that' : 'the replies of flows that';
  const more = overlaps.count > 1 ? ` (and ${overlaps.count - 1} more NAT rule${overlaps.count > 2 ? 's' : ''})` : '';
  return `NOTRACK rule ${rule} withheld: it would untrack ${what} ${describeNatOverlap(first)} rewrites${more}; an untracked packet skips the nat table`;
}

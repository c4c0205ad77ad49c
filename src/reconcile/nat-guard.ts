// Keeps NOTRACK rules off packets a NAT rule on this node rewrites: before
// each plan, the node's NAT rules are read (kernel/nat/nat-reader.ts) and
// each wanted NOTRACK rule is compared with them (nat/nat-overlap.ts). A
// rule that overlaps one is withheld: left out of what is planned, so a rule
// applied earlier is withdrawn by the same sync that keeps the others. When
// the NAT rules cannot be read, no NOTRACK rule can be shown safe and all are
// withheld: tracking is the safe side.
//
// The walk of the ruleset is redone only when the reading changed, and the
// comparison only when the reading or the rules did.
import type { NatReading, NatRulesSource } from '../kernel/nat/nat-reader.js';
import { packetMatches } from '../kernel/notrack/packet-matches.js';
import type { NotrackRule } from '../policy/types.js';
import { errorText } from '../errors.js';
import { overlapMessage } from './nat/describe-overlap.js';
import { analyseNat, overlapsOf, type NatSite, type RuleOverlaps } from './nat/nat-overlap.js';

export type WithheldReason = 'NatOverlap' | 'NatRulesUnreadable';

export interface WithheldRule {
  /** The NOTRACK rule's name. */
  rule: string;
  reason: WithheldReason;
  message: string;
  /** NatOverlap: the NAT rules it overlaps. */
  overlaps?: RuleOverlaps;
}

export interface NatJudgement {
  allowed: NotrackRule[];
  withheld: WithheldRule[];
}

export class NatGuard {
  private sites: { key: string; sites: NatSite[] | string } | null = null;
  private judged: { key: string; judgement: NatJudgement } | null = null;

  constructor(private readonly source: NatRulesSource) {}

  /** Which of `rules` may be applied on this node now. */
  async judge(rules: readonly NotrackRule[]): Promise<NatJudgement> {
    if (rules.length === 0) return { allowed: [], withheld: [] };
    let reading: NatReading;
    try {
      reading = await this.source.read();
    } catch (err) {
      return unreadable(rules, `reading them failed: ${errorText(err)}`);
    }
    if (reading.unreadable) return unreadable(rules, reading.unreadable);
    const key = `${reading.key}\n${JSON.stringify(rules)}`;
    if (this.judged?.key === key) return this.judged.judgement;
    const sites = this.sitesOf(reading);
    const judgement = typeof sites === 'string' ? unreadable(rules, sites) : judge(rules, sites, reading);
    this.judged = { key, judgement };
    return judgement;
  }

  /** The NAT rules' reach for this reading, or why it could not be worked out. */
  private sitesOf(reading: NatReading): NatSite[] | string {
    if (this.sites?.key !== reading.key) {
      let sites: NatSite[] | string;
      try {
        sites = analyseNat(reading.tables, reading.local);
      } catch (err) {
        sites = `they cannot be analysed: ${errorText(err)}`;
      }
      this.sites = { key: reading.key, sites };
    }
    return this.sites.sites;
  }
}

function judge(rules: readonly NotrackRule[], sites: NatSite[], reading: NatReading): NatJudgement {
  const found = overlapsOf(
    rules.map((r) => ({ name: r.name, matches: packetMatches(r) })),
    sites,
    reading.local,
  );
  return {
    allowed: rules.filter((r) => !found.has(r.name)),
    withheld: rules.flatMap((r) => {
      const overlaps = found.get(r.name);
      return overlaps ? [{ rule: r.name, reason: 'NatOverlap' as const, message: overlapMessage(r.name, overlaps), overlaps }] : [];
    }),
  };
}

function unreadable(rules: readonly NotrackRule[], why: string): NatJudgement {
  return {
    allowed: [],
    withheld: rules.map((r) => ({
      rule: r.name,
      reason: 'NatRulesUnreadable',
      message: `NOTRACK rule ${r.name} withheld: the node's NAT rules could not be read, so it cannot be shown to spare the packets they rewrite (${why})`,
    })),
  };
}

// Keeps NOTRACK rules off packets a NAT rule on this node rewrites: before
// each plan, the node's NAT rules are read (kernel/nat/nat-reader.ts) and
// each wanted NOTRACK rule is compared with them (nat/nat-overlap.ts). A
// rule that overlaps one is withheld: left out of what is planned, so a rule
// applied earlier is withdrawn by the same sync that keeps the others. When
// the NAT rules cannot be read, no NOTRACK rule can be shown safe and all are
// withheld: tracking is the safe side.
//
// Cost. The comparison is redone only when the reading (its key) or the
// rules change. Reading itself costs the tools' CPU, seconds on a node with
// thousands of Services (bench/nat.bench.ts): a new reading is taken every
// pass while reading and comparing cost little, and after a costly one only
// once NAT_READ_BUDGET_MS of CPU a minute allows it again; meanwhile the last
// judgement stands.
import type { NatReading, NatRulesSource } from '../kernel/nat/nat-reader.js';
import { packetMatches } from '../kernel/notrack/packet-matches.js';
import { NodeReasons, type WithheldNotrackRuleDoc } from '../api/v1alpha1/status.js';
import type { DesiredNotrackRule } from '../policy/types.js';
import { errorText } from '../errors.js';
import { overlapMessage } from './nat/describe-overlap.js';
import type { Clock } from '../clock.js';
import { analyseNat, overlapsOf, type RuleOverlaps } from './nat/nat-overlap.js';

/** CPU the NAT check may take per minute, on average (reading and comparing). */
export const NAT_READ_BUDGET_MS = 1000;

/** Why a rule is withheld: status.notrackWithheld[].reason. */
type WithheldReason = WithheldNotrackRuleDoc['reason'];

export interface WithheldRule {
  /** The NOTRACK rule's name. */
  rule: string;
  reason: WithheldReason;
  message: string;
  /** NatOverlap: the NAT rules it overlaps. */
  overlaps?: RuleOverlaps;
}

export interface NatJudgement {
  allowed: DesiredNotrackRule[];
  withheld: WithheldRule[];
}

export interface NatGuardOptions {
  /** The Host's clock. */
  clock: Clock;
  /** This process's CPU time so far (ms); the tools' is in each reading. */
  cpuMs?: () => number;
  budgetMsPerMinute?: number;
}

const processCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

export class NatGuard {
  private last: { reading: NatReading; atMs: number; costMs: number } | null = null;
  private judged: { key: string; judgement: NatJudgement } | null = null;
  private readonly cpuMs: () => number;
  private readonly budget: number;

  constructor(
    private readonly source: NatRulesSource,
    private readonly options: NatGuardOptions,
  ) {
    this.cpuMs = options.cpuMs ?? processCpuMs;
    this.budget = options.budgetMsPerMinute ?? NAT_READ_BUDGET_MS;
  }

  /** Which of `rules` may be applied on this node now. */
  async judge(rules: readonly DesiredNotrackRule[]): Promise<NatJudgement> {
    if (rules.length === 0) return { allowed: [], withheld: [] };
    const now = this.options.clock();
    const due = !this.last || now >= this.last.atMs + (this.last.costMs * 60_000) / this.budget;
    const cpuBefore = this.cpuMs();
    let reading: NatReading;
    if (due || !this.last) {
      try {
        reading = await this.source.read();
      } catch (err) {
        return unreadable(rules, `reading them failed: ${errorText(err)}`);
      }
    } else reading = this.last.reading;
    const judgement = this.judgementOf(rules, reading);
    // What a reading and its comparison cost decides when the next reading is due.
    if (due) this.last = { reading, atMs: now, costMs: this.cpuMs() - cpuBefore + reading.costMs };
    return judgement;
  }

  private judgementOf(rules: readonly DesiredNotrackRule[], reading: NatReading): NatJudgement {
    if (reading.unreadable) return unreadable(rules, reading.unreadable);
    const key = `${reading.key}\n${JSON.stringify(rules)}`;
    if (this.judged?.key === key) return this.judged.judgement;
    let judgement: NatJudgement;
    try {
      judgement = judge(rules, reading);
    } catch (err) {
      judgement = unreadable(rules, `they cannot be analysed: ${errorText(err)}`);
    }
    this.judged = { key, judgement };
    return judgement;
  }
}

function judge(rules: readonly DesiredNotrackRule[], reading: NatReading): NatJudgement {
  const sites = analyseNat(reading.tables());
  const found = overlapsOf(
    rules.map((r) => ({ name: r.name, matches: packetMatches(r) })),
    sites,
    reading.local,
  );
  return {
    allowed: rules.filter((r) => !found.has(r.name)),
    withheld: rules.flatMap((r) => {
      const overlaps = found.get(r.name);
      return overlaps ? [{ rule: r.name, reason: NodeReasons.NotrackWithheld.NatOverlap, message: overlapMessage(r.name, overlaps), overlaps }] : [];
    }),
  };
}

function unreadable(rules: readonly DesiredNotrackRule[], why: string): NatJudgement {
  return {
    allowed: [],
    withheld: rules.map((r) => ({
      rule: r.name,
      reason: NodeReasons.NotrackWithheld.NatRulesUnreadable,
      message: `NOTRACK rule ${r.name} withheld: the node's NAT rules could not be read, so it cannot be shown to spare the packets they rewrite (${why})`,
    })),
  };
}

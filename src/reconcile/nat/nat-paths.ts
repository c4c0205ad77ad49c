// Pure: which packets reach each NAT rule of the node, found by walking the
// nat chains from their base chains the way the kernel does.
//
// The model, and why it is safe:
// - A packet enters a nat base chain (PREROUTING, INPUT, OUTPUT, POSTROUTING;
//   in nftables every base chain of type nat) only as the first packet of a
//   connection; later packets follow what conntrack recorded. An untracked
//   packet never enters them at all.
// - The condition under which a rule is reached is the conjunction of the
//   matches on the way to it: the rules that jumped (or went) to its chain, the
//   verdict-map element that led there, and its own matches. Every path is
//   followed separately (a kube-proxy endpoint chain is reached from its
//   ClusterIP and from its NodePort).
// - Rules before it in its chain that end the chain (RETURN, ACCEPT, a NAT
//   target, a goto) keep packets they match from reaching it. That negation is
//   taken only where it is one match (a negated match is again one match: the
//   `-m mark ! --mark 0x4000/0x4000 -j RETURN` in front of kube-proxy's
//   MASQUERADE); an unconditional one ends the chain. Other such rules are
//   ignored, which lets more packets reach later rules, never fewer.
// - Matches the parser could not read are dropped: "may match". Mark matches
//   are dropped too, except as guards (mark-guards.ts).
// So each path's condition covers at least every packet that takes it.
import type { NatAction, NatHook, NatMatch, NatRule, NatTable, NatTranslation } from '../../kernel/nat/nat-rules.js';

/** One rule, for the reports: where it is and how it reads. */
export interface RuleRef {
  /** The same for every path to the same rule (and verdict-map element). */
  id: number;
  /** "iptables-nft ipv4 nat", "nftables ipv4 kube-proxy". */
  table: string;
  chain: string;
  text: string;
  comment?: string;
  /** How many of its matches name addresses, ports or the protocol: the reports show the path's most telling rule. */
  narrows: number;
}

/** A NAT rule reached by one path. */
export interface NatPath {
  hook: NatHook;
  matches: NatMatch[];
  nat: 'dnat' | 'redirect' | 'snat' | 'masquerade';
  to: NatTranslation;
  rule: RuleRef;
  /** The rules that led there, outermost first. */
  via: RuleRef[];
}

/** A rule that sets packet mark bits, reached by one path. */
export interface MarkSetter {
  hook: NatHook;
  matches: NatMatch[];
  bits: number | 'unknown';
  rule: RuleRef;
  via: RuleRef[];
}

export interface NatWalk {
  paths: NatPath[];
  /** The mark setters reached, each by one path. */
  setters: MarkSetter[];
  /** The bits some nat rule sets, reached or not ('unknown' when one sets bits that cannot be read). */
  markBits: number | 'unknown';
}

/** Past this many rule visits the ruleset is not analysed (and nothing is untracked). */
const MAX_RULE_VISITS = 2_000_000;
// nf_tables refuses jumps deeper than 16; iptables loops are refused by the kernel.
const MAX_DEPTH = 64;

class NatRulesetTooComplex extends Error {}

function negate(m: NatMatch): NatMatch | null {
  return m.kind === 'unknown' || m.kind === 'family' ? null : { ...m, negated: !m.negated };
}

function tableLabel(t: NatTable): string {
  return `${t.source} ${t.family} ${t.name}`;
}

/** NETMAP rewrites the destination where a DNAT would, the source where an SNAT would. */
function natKind(nat: string, hook: NatHook): NatPath['nat'] {
  if (nat !== 'netmap') return nat as NatPath['nat'];
  return hook === 'postrouting' || hook === 'input' ? 'snat' : 'dnat';
}

const ENDS_CHAIN = new Set<NatAction['kind']>(['nat', 'goto', 'return', 'stop']);

export function walkNat(tables: readonly NatTable[]): NatWalk {
  const out: NatWalk = { paths: [], setters: [], markBits: markBitsOf(tables) };
  let visits = 0;
  const ids = new Map<object, number>();
  const idOf = (o: object) => ids.get(o) ?? (ids.set(o, ids.size), ids.size - 1);
  for (const table of tables) {
    const label = tableLabel(table);
    // One ref per rule, whichever path reaches it.
    const refs = new Map<NatRule, RuleRef>();
    const refOf = (rule: NatRule, chain: string): RuleRef => {
      let ref = refs.get(rule);
      if (!ref) {
        ref = {
          id: idOf(rule),
          table: label,
          chain,
          text: rule.text,
          ...(rule.comment === undefined ? {} : { comment: rule.comment }),
          narrows: narrowing(rule.matches),
        };
        refs.set(rule, ref);
      }
      return ref;
    };
    const familyMatch: NatMatch[] = table.family === 'inet' ? [] : [{ kind: 'family', family: table.family }];

    const run = (actions: readonly NatAction[], hook: NatHook, matches: NatMatch[], via: RuleRef[], ref: RuleRef, depth: number): void => {
      for (const a of actions) {
        switch (a.kind) {
          case 'nat':
            out.paths.push({ hook, matches, nat: natKind(a.nat, hook), to: a.to, rule: ref, via });
            return;
          case 'mark':
            out.setters.push({ hook, matches, bits: a.bits, rule: ref, via });
            break;
          case 'jump':
          case 'goto':
            walk(a.chain, hook, matches, [...via, ref], depth + 1);
            if (a.kind === 'goto') return;
            break;
          case 'return':
          case 'stop':
            return;
          case 'branch':
            for (const b of a.branches) {
              const branchRef = b.text ? { ...ref, id: idOf(b), text: `${ref.text} [${b.text}]`, narrows: ref.narrows + narrowing(b.matches) } : ref;
              run(b.actions, hook, [...matches, ...b.matches], via, branchRef, depth);
            }
            break;
        }
      }
    };

    const walk = (name: string, hook: NatHook, path: NatMatch[], via: RuleRef[], depth: number): void => {
      const chain = table.chains.get(name);
      if (!chain) return;
      if (depth > MAX_DEPTH) throw new NatRulesetTooComplex(`${label}: chain ${name} is reached through more than ${MAX_DEPTH} jumps`);
      const carried: NatMatch[] = [];
      for (const rule of chain.rules) {
        if (++visits > MAX_RULE_VISITS) throw new NatRulesetTooComplex(`${label}: more than ${MAX_RULE_VISITS} rule visits`);
        run(rule.actions, hook, carried.length ? [...path, ...carried, ...rule.matches] : path.concat(rule.matches), via, refOf(rule, name), depth);
        if (!endsChain(rule)) continue;
        if (rule.matches.length === 0) return;
        const negated = rule.matches.length === 1 ? negate(rule.matches[0]!) : null;
        if (negated) carried.push(negated);
      }
    };

    for (const chain of table.chains.values()) if (chain.hook) walk(chain.name, chain.hook, familyMatch, [], 0);
  }
  return out;
}

const NARROWING = new Set<NatMatch['kind']>(['saddr', 'daddr', 'sport', 'dport', 'protocol', 'local']);
const narrowing = (ms: readonly NatMatch[]) => ms.filter((m) => NARROWING.has(m.kind)).length;

/** The bits any rule of the tables may set, whether a path reaches it or not. */
function markBitsOf(tables: readonly NatTable[]): number | 'unknown' {
  let bits: number | 'unknown' = 0;
  const visit = (actions: readonly NatAction[]): void => {
    for (const a of actions) {
      if (a.kind === 'mark') bits = a.bits === 'unknown' || bits === 'unknown' ? 'unknown' : bits | a.bits;
      else if (a.kind === 'branch') for (const b of a.branches) visit(b.actions);
    }
  };
  for (const t of tables) for (const c of t.chains.values()) for (const r of c.rules) visit(r.actions);
  return bits;
}

/** The rule ends its chain for every packet it matches. */
function endsChain(rule: NatRule): boolean {
  return rule.actions.some((a) => ENDS_CHAIN.has(a.kind));
}

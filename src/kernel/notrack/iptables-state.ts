// Pure: reads an iptables-save dump, compares our chains and jumps with the
// desired lines, and writes the `iptables-restore --noflush` input that makes
// them match. Only owned chains (OWNED_CHAINS) and jump rules carrying our
// comment are ever named in that input, so everything else stays as it was.
import { linesMissingFrom } from './line-diff.js';
import { OWNED_CHAINS, OWNED_TABLES, jumpSpec, markerLine, type ChainLines, type IptablesTable, type OwnedChain } from './render-iptables.js';

interface SavedTable {
  chains: Set<string>;
  /** `-A CHAIN ...` lines in order, per chain. */
  rules: Map<string, string[]>;
}

export type SavedRuleset = Map<string, SavedTable>;

export function parseIptablesSave(text: string): SavedRuleset {
  const tables: SavedRuleset = new Map();
  let current: SavedTable | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      current = { chains: new Set(), rules: new Map() };
      tables.set(line.slice(1), current);
    } else if (!current || line === 'COMMIT') {
      if (line === 'COMMIT') current = undefined;
    } else if (line.startsWith(':')) {
      current.chains.add(line.slice(1).split(' ')[0] ?? '');
    } else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1] ?? '';
      // Push, not copy: kube-proxy's chains run to tens of thousands of lines.
      const lines = current.rules.get(chain);
      if (lines) lines.push(line);
      else current.rules.set(chain, [line]);
    }
  }
  return tables;
}

/**
 * Our view of a ruleset: chains with our names that lack our marker are
 * someone else's and are left out of it (so nothing here ever names them in a
 * restore), and listed in `foreign`.
 */
export function ownedView(saved: SavedRuleset): { saved: SavedRuleset; foreign: OwnedChain[] } {
  const foreign = OWNED_CHAINS.filter((c) => hasChain(saved, c) && !rulesOf(saved, c.table, c.name).includes(markerLine(c.name)));
  if (foreign.length === 0) return { saved, foreign };
  const view: SavedRuleset = new Map([...saved].map(([name, t]) => [name, { chains: new Set(t.chains), rules: new Map(t.rules) }]));
  for (const c of foreign) {
    view.get(c.table)?.chains.delete(c.name);
    view.get(c.table)?.rules.delete(c.name);
  }
  return { saved: view, foreign };
}

function rulesOf(saved: SavedRuleset, table: IptablesTable, chain: string): string[] {
  return saved.get(table)?.rules.get(chain) ?? [];
}

function hasChain(saved: SavedRuleset, chain: OwnedChain): boolean {
  return saved.get(chain.table)?.chains.has(chain.name) ?? false;
}

/** Indexes of our jump in its parent chain. */
function jumpPositions(saved: SavedRuleset, chain: OwnedChain): number[] {
  const line = `-A ${chain.parent} ${jumpSpec(chain)}`;
  return rulesOf(saved, chain.table, chain.parent).flatMap((l, i) => (l === line ? [i] : []));
}

function jumpInPlace(saved: SavedRuleset, chain: OwnedChain): boolean {
  const at = jumpPositions(saved, chain);
  return at.length === 1 && (!chain.jumpFirst || at[0] === 0);
}

/** What we own now, as the target that would keep it (used to undo a sync). */
export function ownedLines(saved: SavedRuleset): ChainLines {
  return new Map(OWNED_CHAINS.filter((c) => hasChain(saved, c)).map((c) => [c.name, rulesOf(saved, c.table, c.name)]));
}

export interface IptablesDiff {
  missing: string[];
  extra: string[];
  ownedRules: number;
}

export function diffIptables(saved: SavedRuleset, wanted: ChainLines, label: string): IptablesDiff {
  const diff: IptablesDiff = { missing: [], extra: [], ownedRules: 0 };
  for (const chain of OWNED_CHAINS) {
    const actual = rulesOf(saved, chain.table, chain.name);
    const desired = wanted.get(chain.name) ?? [];
    const tag = (line: string): string => `${label} ${chain.table}: ${line}`;
    diff.ownedRules += actual.filter((l) => l !== markerLine(chain.name)).length;
    // concat, not push(...): 10^5 lines are past the call stack's argument limit.
    diff.missing = diff.missing.concat(linesMissingFrom(actual, desired).map(tag));
    diff.extra = diff.extra.concat(linesMissingFrom(desired, actual).map(tag));
    const jumps = jumpPositions(saved, chain).length;
    const jump = tag(`${chain.jumpFirst ? `-I ${chain.parent} 1` : `-A ${chain.parent}`} ${jumpSpec(chain)}`);
    if (desired.length > 0 && !jumpInPlace(saved, chain)) diff.missing.push(jump);
    if (desired.length === 0 && jumps > 0) diff.extra.push(jump);
    if (desired.length === 0 && hasChain(saved, chain)) diff.extra.push(tag(`:${chain.name}`));
    if (desired.length > 0 && jumps > 1) diff.extra = diff.extra.concat(Array<string>(jumps - 1).fill(jump));
  }
  return diff;
}

/**
 * The `iptables-restore --noflush` input taking `saved` to `wanted`, or ''
 * when there is nothing of ours to touch. `:CHAIN - [0:0]` creates the chain
 * or, when it exists, flushes it; tables with nothing of ours are left out
 * so that restore does not create them.
 */
export function buildRestore(saved: SavedRuleset, wanted: ChainLines): string {
  const out: string[] = [];
  for (const table of OWNED_TABLES) {
    const chains = OWNED_CHAINS.filter((c) => c.table === table);
    const touched = chains.filter((c) => hasChain(saved, c) || jumpPositions(saved, c).length > 0 || wanted.has(c.name));
    if (touched.length === 0) continue;
    const declare = touched.filter((c) => hasChain(saved, c) || wanted.has(c.name));
    const jumps = touched.flatMap((c) => {
      const keep = wanted.has(c.name);
      if (keep && jumpInPlace(saved, c)) return [];
      const drop = jumpPositions(saved, c).map(() => `-D ${c.parent} ${jumpSpec(c)}`);
      return keep ? [...drop, `-I ${c.parent} 1 ${jumpSpec(c)}`] : drop;
    });
    const fill = touched.flatMap((c) => wanted.get(c.name) ?? []);
    const deleteChains = declare.filter((c) => !wanted.has(c.name)).map((c) => `-X ${c.name}`);
    out.push([`*${table}`, ...declare.map((c) => `:${c.name} - [0:0]`), ...jumps].join('\n'), fill.join('\n'), [...deleteChains, 'COMMIT'].join('\n'));
  }
  const text = out.filter((part) => part !== '').join('\n');
  return text === '' ? '' : `${text}\n`;
}

// conntrack's statistics counters: /proc/net/stat/nf_conntrack where the
// kernel keeps it, else `conntrack -S` (netlink, needs CAP_NET_ADMIN). Both are
// per-CPU; both are parsed by their own key names (column sets differ by
// kernel) into one camelCase shape summed over CPUs.
import type { Host } from './host.js';
import { netlinkAnswersForTree, notRunForTree } from './netlink-scope.js';
import { unreadable, type Unreadable } from './unreadable.js';
import { errnoCode } from '../errors.js';

/**
 * Counters summed over CPUs. Only the keys the source printed are present;
 * unknown kernel names come through camelCased (e.g. expect_new -> expectNew).
 */
export interface ConntrackCounters {
  found?: number;
  invalid?: number;
  insert?: number;
  insertFailed?: number;
  drop?: number;
  earlyDrop?: number;
  icmpError?: number;
  searchRestart?: number;
  clashResolve?: number;
  chainTooLong?: number;
  [name: string]: number | undefined;
}

export type StatsSource = 'stat-file' | 'conntrack -S';

export interface ConntrackStats {
  /** Which source answered; null when neither could be read. */
  source: StatsSource | null;
  counters: ConntrackCounters | null;
  /** The namespace's entry count where the source prints it (the stat file's `entries`); null over netlink. */
  entries: number | null;
  cpus: number;
  /** Counters the drop alerts and findings depend on that the source did not print (a renamed or dropped column). */
  missing: string[];
  unreadable: Unreadable[];
}

/** The counters drops are classified from: without them a full table or an insertion race goes unseen. */
const REQUIRED_COUNTERS = ['drop', 'earlyDrop', 'insertFailed'] as const;

function missingCounters(counters: ConntrackCounters): string[] {
  return REQUIRED_COUNTERS.filter((k) => counters[k] === undefined);
}

/** One "not read" entry per required counter the source did not print. */
function missingEntries(missing: string[], source: string): Unreadable[] {
  return missing.map((name) => ({ what: `conntrack counter ${name}`, path: source, code: 'no such column', needsRoot: false }));
}

// The two interfaces (and kernel versions) name some counters differently.
const ALIASES: Record<string, string> = {
  clashres: 'clashResolve',
  clash_resolve: 'clashResolve',
  chainlength: 'chainTooLong',
  chaintoolong: 'chainTooLong',
  error: 'icmpError',
  icmp_error: 'icmpError',
};

/** The normalised counter name for a kernel or conntrack-tools name. */
export function counterName(raw: string): string {
  return ALIASES[raw] ?? raw.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

function add(counters: ConntrackCounters, raw: string, value: number): void {
  const key = counterName(raw);
  counters[key] = (counters[key] ?? 0) + value;
}

/**
 * Parse /proc/net/stat/nf_conntrack: a header of names, then one row of hex
 * values per CPU. `entries` is not a per-CPU counter: the kernel prints the
 * namespace's global count (nf_conntrack_count) on every row (seen here: 0x17
 * on both CPUs with 23 entries), so it is taken from the first row, not summed.
 */
export function parseStatFile(text: string): Pick<ConntrackStats, 'counters' | 'entries' | 'cpus'> {
  const [header, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  if (header === undefined) throw new Error('stat file: empty, no header line');
  const names = header.trim().split(/\s+/);
  // Named once per file, not per CPU row: the table watch parses these files every second.
  const keys = names.map(counterName);
  const counters: ConntrackCounters = {};
  let entries: number | null = null;
  for (const [r, row] of rows.entries()) {
    const cells = row.trim().split(/\s+/);
    if (cells.length !== names.length) throw new Error(`stat file row ${r + 1}: ${cells.length} values for ${names.length} columns`);
    cells.forEach((cell, i) => {
      const value = parseInt(cell, 16);
      if (Number.isNaN(value)) throw new Error(`stat file row ${r + 1}: column ${names[i]} is not hex: ${cell}`);
      if (names[i] === 'entries') entries ??= value;
      else counters[keys[i]!] = (counters[keys[i]!] ?? 0) + value;
    });
  }
  return { counters, entries, cpus: rows.length };
}

/**
 * Parse `conntrack -S`: one `cpu=N key=value ...` line per CPU. Over netlink it
 * prints found/invalid/.../chaintoolong; when it falls back to the stat file it
 * prints that file's names, `entries` included (the global count again: not summed).
 */
export function parseConntrackS(text: string): Pick<ConntrackStats, 'counters' | 'entries' | 'cpus'> {
  const counters: ConntrackCounters = {};
  let entries: number | null = null;
  let cpus = 0;
  for (const line of text.split('\n')) {
    const pairs = line
      .trim()
      .split(/\s+/)
      .filter((p) => p.includes('='));
    if (!pairs[0]?.startsWith('cpu=')) continue;
    cpus++;
    for (const pair of pairs.slice(1)) {
      const [key, raw] = pair.split('=') as [string, string];
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new Error(`conntrack -S cpu line ${cpus}: ${key} is not a number: ${raw}`);
      if (key === 'entries') entries ??= value;
      else add(counters, key, value);
    }
  }
  if (cpus === 0) throw new Error('conntrack -S: no cpu= lines in its output');
  return { counters, entries, cpus };
}

/** conntrack-tools' words for a refused netlink request ("you must be root or get CAP_NET_ADMIN"). */
export function isPermissionMessage(stderr: string): boolean {
  return /CAP_NET_ADMIN|not permitted|permission denied/i.test(stderr);
}

/**
 * Read the counters: the stat file first (both layouts of the tree), conntrack
 * -S where it is missing or unreadable, and only when conntrack answers for
 * the tree's namespace. Never throws.
 */
export async function readConntrackStats(host: Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot'>): Promise<ConntrackStats> {
  const { files, paths, runner, isRoot } = host;
  const problems: Unreadable[] = [];
  for (const statPath of paths.statFiles()) {
    try {
      return found('stat-file', parseStatFile(await files.read(statPath)), statPath, problems);
    } catch (err) {
      // ENOENT is the normal case on kernels without the procfs interface; anything else is worth naming.
      // Both layouts are one file on a live system: one reason per error.
      const code = errnoCode(err);
      if (code !== 'ENOENT' && !problems.some((p) => p.code === code)) problems.push(unreadable('conntrack stat file', statPath, err, isRoot));
    }
  }
  const command = 'conntrack -S';
  if (!(await netlinkAnswersForTree(host))) {
    problems.push(notRunForTree('conntrack counters', command));
  } else {
    try {
      const r = await runner.run('conntrack', ['-S']);
      if (r.code === 0) return found(command, parseConntrackS(r.stdout), command, problems);
      const denied = isPermissionMessage(r.stderr);
      problems.push({ what: 'conntrack counters', path: command, code: denied ? 'EPERM' : `exit ${r.code}`, needsRoot: denied && !isRoot });
    } catch (err) {
      problems.push(unreadable('conntrack counters', command, err, isRoot));
    }
  }
  return { source: null, counters: null, entries: null, cpus: 0, missing: [], unreadable: problems };
}

function found(source: StatsSource, parsed: Pick<ConntrackStats, 'counters' | 'entries' | 'cpus'>, origin: string, problems: Unreadable[]): ConntrackStats {
  const missing = missingCounters(parsed.counters ?? {});
  return { source, ...parsed, missing, unreadable: [...problems, ...missingEntries(missing, origin)] };
}

// Reads every NAT rule of the node, through the Host's CommandRunner:
// - for iptables-nft, `iptables-nft-save -t nat` and `ip6tables-nft-save -t nat`
//   (they list without creating anything);
// - for iptables-legacy, the same with -legacy, only for families whose legacy nat
//   table exists (/proc/net/ip_tables_names, ip6_tables_names): saving a
//   legacy table that is not there would create it;
// - for nftables, `nft -j list chains` finds the tables with a nat base chain,
//   then `nft -j -s list table F T` lists each (listing the whole ruleset
//   would list iptables-nft's nat table a second time, the costliest part).
//   iptables-nft's own nat tables are left to iptables-nft-save, which shows
//   their matches; when it calls one "incompatible" (rules it cannot show,
//   still exit 0), nft lists that one too.
// A missing tool is "not read": its rules cannot exist without it being
// installed somewhere, and the agent's image carries all three. A tool that is
// there and fails, or a table only a missing tool could list, makes the
// reading unreadable: NOTRACK rules cannot then be proven safe.
//
// Each reading lists everything again; the NOTRACK check (reconcile/nat-guard.ts)
// decides how often, from what a reading costs. Parsing is left to whoever
// needs the tables (an unchanged ruleset, by its key, needs none).
import { createHash } from 'node:crypto';
import type { Host } from '../host.js';
import type { IpFamily } from '../notrack/packet-matches.js';
import { errnoCode, errorText } from '../../errors.js';
import { legacyTablesFile, readLegacyTables } from '../legacy-tables.js';
import { readLocalAddresses } from './local-addresses.js';
import type { LocalAddresses, NatTable } from './nat-rules.js';
import { iptablesSaveIncompatible, parseIptablesNat } from './parse-iptables-nat.js';
import { parseNftNat } from './parse-nft-nat.js';

/** USER_HZ: the unit of /proc/<pid>/stat's times on every Linux architecture in use. */
const CLOCK_TICKS_PER_SECOND = 100;

export type NatSourceState = 'read' | 'absent' | 'not-installed';

export interface NatReading {
  /** Identity of what was read (a hash): the same key means the same rules and addresses. */
  key: string;
  /** The tables, parsed from what was read (each call parses again: an unchanged key needs none). */
  tables(): NatTable[];
  local: LocalAddresses | null;
  /** Why the ruleset could not be read in full, when it could not. */
  unreadable?: string;
  /** Each source: read, absent (no such table), or its tool not installed. */
  sources: Record<string, NatSourceState>;
  /** CPU the tools took (ms; their wall time where /proc/self/stat cannot be read). */
  costMs: number;
}

/** Where the NOTRACK check gets the node's NAT rules from. */
export interface NatRulesSource {
  read(): Promise<NatReading>;
}

interface Listing {
  /** What was listed, as the key sees it (dates and counters left out). */
  texts: string[];
  saves: Array<{ text: string; family: IpFamily; source: 'iptables-nft' | 'iptables-legacy' }>;
  nftOutputs: string[];
  sources: Record<string, NatSourceState>;
  problems: string[];
}

/** The save tools, by family: literals, so that the image test finds each command it must ship. */
const SAVE_TOOLS: Readonly<Record<IpFamily, { nft: string; legacy: string }>> = {
  ipv4: { nft: 'iptables-nft-save', legacy: 'iptables-legacy-save' },
  ipv6: { nft: 'ip6tables-nft-save', legacy: 'ip6tables-legacy-save' },
};

type RunResult = { installed: false } | { installed: true; code: number; stdout: string; stderr: string };

export class NatRulesReader implements NatRulesSource {
  constructor(private readonly host: Host) {}

  /** The node's NAT rules and addresses, read now. */
  async read(): Promise<NatReading> {
    const started = this.host.clock();
    const cpuBefore = await this.childCpuMs();
    const local = await readLocalAddresses(this.host);
    const listing = await this.list();
    const cpuAfter = await this.childCpuMs();
    const costMs = cpuBefore === null || cpuAfter === null ? this.host.clock() - started : cpuAfter - cpuBefore;
    const hash = createHash('sha256');
    for (const t of listing.texts) hash.update(t).update('\0');
    hash.update(JSON.stringify([local, listing.problems]));
    const { saves, nftOutputs } = listing;
    return {
      key: hash.digest('hex'),
      tables: () => [
        ...saves.flatMap((s) => parseIptablesNat(s.text, s.family, s.source).table ?? []),
        ...parseNftNat(nftOutputs.map((t) => JSON.parse(t) as unknown)),
      ],
      local,
      ...(listing.problems.length ? { unreadable: listing.problems.join('; ') } : {}),
      sources: listing.sources,
      costMs,
    };
  }

  /** CPU time of our waited-for children so far (ms), from /proc/self/stat; null when unreadable. */
  private async childCpuMs(): Promise<number | null> {
    try {
      const stat = await this.host.files.read(this.host.paths.proc('self', 'stat'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // After the command name: state is field 3, cutime 16 and cstime 17.
      const ticks = Number(fields[13]) + Number(fields[14]);
      return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : null;
    } catch {
      return null;
    }
  }

  private async run(cmd: string, args: string[]): Promise<RunResult> {
    try {
      return { installed: true, ...(await this.host.runner.run(cmd, args)) };
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { installed: false };
      throw err;
    }
  }

  private async list(): Promise<Listing> {
    const texts: string[] = [];
    const problems: string[] = [];
    const sources: Record<string, NatSourceState> = {};
    const saves: Array<{ text: string; family: IpFamily; source: 'iptables-nft' | 'iptables-legacy' }> = [];
    /** iptables-nft nat tables shown by iptables-nft-save: nft need not list them. */
    const shown = new Set<string>();
    for (const family of ['ipv4', 'ipv6'] as const) {
      const nftFamily = family === 'ipv4' ? 'ip' : 'ip6';
      const tools = SAVE_TOOLS[family];
      const tool = family === 'ipv4' ? 'iptables' : 'ip6tables';
      const nft = await this.run(tools.nft, ['-t', 'nat']);
      const name = `${tool}-nft`;
      if (!nft.installed) sources[name] = 'not-installed';
      else if (nft.code !== 0) problems.push(`${tools.nft} -t nat failed (exit ${nft.code}): ${nft.stderr.trim() || 'no message'}`);
      else {
        sources[name] = 'read';
        if (!iptablesSaveIncompatible(nft.stdout)) {
          shown.add(`${nftFamily} nat`);
          saves.push({ text: nft.stdout, family, source: 'iptables-nft' });
          texts.push(withoutVolatile(nft.stdout));
        }
      }
      const legacy = `${tool}-legacy`;
      const present = await this.legacyNatPresent(family);
      if (present === null) problems.push(`cannot tell whether a legacy ${family} nat table exists (${legacyTablesFile(family)} unreadable)`);
      if (!present) {
        sources[legacy] = 'absent';
        continue;
      }
      const saved = await this.run(tools.legacy, ['-t', 'nat']);
      if (!saved.installed) problems.push(`a legacy ${family} nat table exists but ${tools.legacy} is not installed`);
      else if (saved.code !== 0) problems.push(`${tools.legacy} -t nat failed (exit ${saved.code}): ${saved.stderr.trim() || 'no message'}`);
      else {
        sources[legacy] = 'read';
        saves.push({ text: saved.stdout, family, source: 'iptables-legacy' });
        texts.push(withoutVolatile(saved.stdout));
      }
    }
    const nftOutputs = await this.listNft(shown, sources, problems);
    return { texts: [...texts, ...nftOutputs], saves, nftOutputs, sources, problems };
  }

  /** Whether the legacy nat table of a family exists; null when that cannot be told. */
  private async legacyNatPresent(family: IpFamily): Promise<boolean | null> {
    try {
      return (await readLegacyTables(this.host, family)).has('nat');
    } catch {
      return null;
    }
  }

  /** `nft -j` outputs of the native tables with nat base chains, other than those in `skip`. */
  private async listNft(skip: Set<string>, sources: Record<string, NatSourceState>, problems: string[]): Promise<string[]> {
    const chains = await this.run('nft', ['-j', 'list', 'chains']);
    if (!chains.installed) {
      sources.nftables = 'not-installed';
      for (const t of ['ip nat', 'ip6 nat'])
        if (!skip.has(t) && sources[t.startsWith('ip6') ? 'ip6tables-nft' : 'iptables-nft'] === 'read')
          problems.push(`iptables-nft-save cannot show table ${t} and nft is not installed`);
      return [];
    }
    if (chains.code !== 0) {
      problems.push(`nft -j list chains failed (exit ${chains.code}): ${chains.stderr.trim() || 'no message'}`);
      return [];
    }
    let tables: string[];
    try {
      tables = natTablesOf(JSON.parse(chains.stdout) as unknown).filter((t) => !skip.has(t));
    } catch (err) {
      problems.push(`nft -j list chains printed what is not JSON: ${errorText(err)}`);
      return [];
    }
    sources.nftables = tables.length ? 'read' : 'absent';
    const out: string[] = [];
    for (const t of tables) {
      const listed = await this.run('nft', ['-j', '-s', 'list', 'table', ...t.split(' ')]);
      if (listed.installed && listed.code === 0) out.push(listed.stdout);
      else if (listed.installed) problems.push(`nft -j -s list table ${t} failed (exit ${listed.code}): ${listed.stderr.trim() || 'no message'}`);
    }
    return out;
  }
}

/** "family name" of every table with a base chain of type nat, from `nft -j list chains`. */
export function natTablesOf(output: unknown): string[] {
  const items = (output as { nftables?: unknown[] }).nftables ?? [];
  const found = new Set<string>();
  for (const item of items) {
    const c = (item as { chain?: { family?: string; table?: string; type?: string; hook?: string } }).chain;
    if (c?.type === 'nat' && c.hook && (c.family === 'ip' || c.family === 'ip6' || c.family === 'inet')) found.add(`${c.family} ${c.table}`);
  }
  return [...found];
}

/** iptables-save output without what changes between two saves of the same rules (the date lines, legacy's counters). */
function withoutVolatile(text: string): string {
  return text.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '[0:0]');
}

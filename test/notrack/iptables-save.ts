// iptables-save as the real tool answers (iptables 1.8.9), for a FakeRunner:
// whole rulesets, one table's block, and the built-in chains of an empty table.
import { ToolAnswer, ok } from '../support/fake-runner.js';

/** The built-in chains of each table iptables knows, in the order iptables-save prints them. */
const BUILT_IN: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  security: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** The tables a ruleset holds (what /proc/net/ip_tables_names lists for it under iptables-legacy). */
export function tablesIn(ruleset: string): Set<string> {
  return new Set([...ruleset.matchAll(/^\*(\S+)$/gm)].map((m) => m[1] ?? ''));
}

/**
 * iptables-save (either flavour, either family) over a ruleset, answering as
 * the real tool does (iptables 1.8.9): no arguments, the whole ruleset;
 * `-t T`, only T's block, or T empty with its built-in chains when the
 * ruleset has none (iptables-nft-save prints it so; legacy first creates it);
 * a table iptables does not know fails with the tool's own message.
 * `ruleset` may be a function: the rules as they are at the moment of the call.
 */
export function iptablesSave(ruleset: string | (() => string)): ToolAnswer {
  return new ToolAnswer((call) => {
    const text = typeof ruleset === 'string' ? ruleset : ruleset();
    if (call.args.length === 0) return ok(text);
    const [flag, table = ''] = call.args;
    if (flag !== '-t' || call.args.length !== 2) throw new Error(`iptablesSave: ${call.cmd} ${call.args.join(' ')} is not answered here`);
    const builtIn = BUILT_IN[table];
    if (!builtIn) {
      const legacy = call.cmd.includes('-legacy-');
      const stderr = legacy
        ? `${call.cmd.replace('-legacy', '')} v1.8.9 (legacy): Cannot initialize: Table does not exist (do you need to insmod?)\n`
        : `Table \`${table}' does not exist\n`;
      return { code: 1, stdout: '', stderr };
    }
    return ok(tableBlock(text, table) ?? [`*${table}`, ...builtIn.map((c) => `:${c} ACCEPT [0:0]`), 'COMMIT', ''].join('\n'));
  });
}

/** One table's block of an iptables-save ruleset, `*table` to COMMIT; undefined when it has none. */
export function tableBlock(ruleset: string, table: string): string | undefined {
  return new RegExp(`^\\*${table}\\n[\\s\\S]*?^COMMIT\\n`, 'm').exec(ruleset.endsWith('\n') ? ruleset : `${ruleset}\n`)?.[0];
}

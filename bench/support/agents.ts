// The agents a bench compares: any tree or command line, named on the command
// line as --agent NAME=SPEC, where SPEC is
//   a directory: a checkout, its src/cli/main.ts run through tsx;
//   a git revision of this repository: its tree unpacked into a temp dir
//     (git archive, nothing added to the repository) with this tree's
//     node_modules linked in, run the same way;
//   a command line (anything with a space): run as given, from this tree.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliCommand } from '../../test/cli/cli-support.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The last tree landed before the table watch (issue #20): "the agent as it was". */
export const BEFORE_REV = 'dcb3546';

/** The policy the surge and watch benches run: autoSize as issue #20 measured it (2% of RAM, 50% target, floor `minMax`). */
export function autoSizePolicy(name: string, minMax: number): string {
  return `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: ${name}}
spec:
  table:
    autoSize: {memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: ${minMax}}
`;
}

export interface AgentUnderTest {
  name: string;
  /** What it is, for the printed header. */
  from: string;
  cli: CliCommand;
}

/** Agent NAME=SPEC pairs from argv (--agent, repeatable); `defaults` where none is given. */
export function agentSpecs(argv: readonly string[], defaults: ReadonlyArray<[string, string]>): Array<[string, string]> {
  const given = argv.flatMap((a, i) => (a === '--agent' && argv[i + 1] ? [argv[i + 1]!] : []));
  if (given.length === 0) return [...defaults];
  return given.map((g) => {
    const eq = g.indexOf('=');
    if (eq <= 0) throw new Error(`--agent ${g}: want NAME=DIR, NAME=REVISION or NAME='COMMAND ...'`);
    return [g.slice(0, eq), g.slice(eq + 1)];
  });
}

function tsxCli(dir: string): CliCommand {
  return { argv: [process.execPath, '--import', 'tsx', join(dir, 'src/cli/main.ts')], cwd: dir };
}

/** Makes each spec runnable; `cleanup` removes the unpacked trees. */
export function prepareAgents(specs: ReadonlyArray<[string, string]>): { agents: AgentUnderTest[]; cleanup: () => void } {
  const dirs: string[] = [];
  const agents = specs.map(([name, spec]): AgentUnderTest => {
    if (/\s/.test(spec.trim())) return { name, from: `command ${spec}`, cli: { argv: spec.trim().split(/\s+/), cwd: ROOT } };
    if (existsSync(join(spec, 'src/cli/main.ts'))) return { name, from: `tree ${spec}`, cli: tsxCli(spec) };
    const rev = execFileSync('git', ['-C', ROOT, 'rev-parse', '--verify', `${spec}^{commit}`], { encoding: 'utf8' }).trim();
    const dir = mkdtempSync(join(tmpdir(), `ctop-agent-${name}-`));
    dirs.push(dir);
    const archive = spawnSync('sh', ['-c', `git -C "${ROOT}" archive ${rev} | tar -x -C "${dir}"`], { stdio: ['ignore', 'ignore', 'pipe'] });
    if (archive.status !== 0) throw new Error(`unpacking ${spec}: ${archive.stderr.toString()}`);
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const sameDeps = readFileSync(join(dir, 'package-lock.json'), 'utf8') === readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
    const note = sameDeps ? '' : " (its package-lock.json differs from this tree's: run with this tree's node_modules)";
    return { name, from: `revision ${spec} (${rev.slice(0, 7)})${note}`, cli: tsxCli(dir) };
  });
  return { agents, cleanup: () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })) };
}

// Runs the real CLI entry point (src/cli/main.ts through tsx) as a child
// process, the way a user runs the binary.
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `conntrack-operator <args>`; `prefix` runs it through another command (e.g. ip netns exec NS). */
function cliArgv(args: string[], prefix: string[] = []): string[] {
  return [...prefix, process.execPath, '--import', 'tsx', MAIN, ...args];
}

/** `env` replaces the environment (PATH and HOME are kept unless given). */
export function runCli(args: string[], opts: { prefix?: string[]; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  const argv = cliArgv(args, opts.prefix);
  const env = opts.env ? { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', ...opts.env } : process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface RunningAgent {
  child: ChildProcess;
  /** Its log (stderr) so far. */
  log: () => string;
  /** Its exit code, once it exits. */
  exited: Promise<number>;
}

/** Another build of the CLI than this tree's src/ (the benches compare agents): its command line, and where it runs. */
export interface CliCommand {
  argv: string[];
  cwd?: string;
}

/**
 * Start `conntrack-operator agent <args>` in the background (through `prefix`, e.g. ip netns exec NS), keeping its log.
 * `cli` runs another build instead of this tree's.
 */
export function startAgent(args: string[], prefix: string[] = [], cli?: CliCommand): RunningAgent {
  const argv = cli ? [...prefix, ...cli.argv, 'agent', ...args] : cliArgv(['agent', ...args], prefix);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], ...(cli?.cwd ? { cwd: cli.cwd } : {}) });
  let log = '';
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  return { child, log: () => log, exited };
}

/** A pino line logged at error or fatal (its top-level level; a nested "level" field is not one). */
export const ERROR_LINE = /^\{"level":[56]0,/m;

/** The standalone agent's files in `dir` (policy.yaml, status.json, state/), as its flags. */
export function standaloneArgs(dir: string): string[] {
  return ['--policy-file', join(dir, 'policy.yaml'), '--status-file', join(dir, 'status.json'), '--state-dir', join(dir, 'state')];
}

/** A private copy of a fixture tree (proc/ and sys/ under it), removed by the returned cleanup. */
export async function fixtureCopy(name: string): Promise<{ dir: string; procRoot: string; sysRoot: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `ctop-${name}-`));
  await cp(join(FIXTURES, name), dir, { recursive: true });
  return { dir, procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys'), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function readNumber(path: string): Promise<number> {
  return Number((await readFile(path, 'utf8')).trim());
}

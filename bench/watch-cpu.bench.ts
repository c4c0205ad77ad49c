// `npm run bench -- watch-cpu` (root): the agent's CPU at idle, standalone in
// the host namespace, with 500 network namespaces on the machine (each made by
// `unshare --net` around one sleeping process: the namespace lives exactly as
// long as that process) and with none. Figure: utime + stime of the agent's
// process (/proc/PID/stat; its reaped children's too, shown apart) over 60 s
// from 5 s after its first status, as % of one core. For each agent under test
// (--agent NAME=SPEC, bench/support/agents.ts; default: the agent as it was,
// and this tree). The policy is the surge bench's autoSize one under
// --dry-run: the agent does its whole pass and writes nothing, so no global
// key changes. Every process it starts is ended (by pid) in finally, Ctrl-C
// included.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeStatusDoc } from '../src/api/v1alpha1/status.js';
import { standaloneArgs, startAgent } from '../test/cli/cli-support.js';
import { realKernelSkipReason } from '../test/support/netns.js';
import { agentSpecs, autoSizePolicy, BEFORE_REV, prepareAgents, ROOT, type AgentUnderTest } from './support/agents.js';
import { Interrupt } from './support/interrupt.js';

const NAMESPACES = 500;
const IDLE_SECONDS = 60;
const SETTLE_MS = 5000;
const POLICY = autoSizePolicy('idle', 8192);

const interrupt = new Interrupt();
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime + stime, and cutime + cstime, of a process in clock ticks. */
async function cpuTicks(pid: number): Promise<{ own: number; children: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}

/** `count` processes, each alone in a new network namespace. */
async function namespaces(count: number): Promise<ChildProcess[]> {
  const ours = readlinkSync('/proc/self/ns/net');
  const sleepers: ChildProcess[] = [];
  for (let i = 0; i < count; i++) {
    interrupt.check();
    sleepers.push(interrupt.track(spawn('unshare', ['--net', 'sleep', '3600'], { stdio: 'ignore' })));
  }
  // unshare enters the new namespace, then execs sleep.
  await interrupt.until(
    `${count} processes in namespaces of their own`,
    async () => (sleepers.every((s) => s.pid !== undefined && readlinkSync(`/proc/${s.pid}/ns/net`) !== ours) ? true : undefined),
    120_000,
  );
  return sleepers;
}

/** One agent idle for IDLE_SECONDS: its CPU as % of one core. */
async function idleCpu(agent: AgentUnderTest): Promise<{ own: number; children: number; load: number; seen: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-watch-cpu-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  const statusFile = join(dir, 'status.json');
  const running = startAgent(
    [...standaloneArgs(dir), '--dry-run', '--node-name', 'watch-cpu-bench', '--notrack-backend', 'nftables', '--metrics-addr', '127.0.0.1:0'],
    [],
    agent.cli,
  );
  interrupt.track(running.child);
  try {
    await interrupt.until(
      `${agent.name}'s first status`,
      async () => {
        if (running.child.exitCode !== null) throw new Error(`${agent.name} exited ${running.child.exitCode}: ${running.log().slice(-2000)}`);
        return (await readFile(statusFile, 'utf8').catch(() => '')) ? true : undefined;
      },
      180_000,
    );
    await interrupt.sleep(SETTLE_MS);
    const before = await cpuTicks(running.child.pid!);
    await interrupt.sleep(IDLE_SECONDS * 1000);
    const after = await cpuTicks(running.child.pid!);
    const percent = (ticks: number) => (ticks / CLK_TCK / IDLE_SECONDS) * 100;
    if (/"level":(50|60)/.test(running.log())) process.stdout.write(`warning: ${agent.name} logged errors: ${running.log().slice(-600)}\n`);
    // Other namespaces on the machine count too: the agent's own census says how many it saw.
    const status = JSON.parse(await readFile(statusFile, 'utf8')) as { status: NodeStatusDoc };
    const seen = status.status.namespaces?.count ?? null;
    return { own: percent(after.own - before.own), children: percent(after.children - before.children), load: loadavg()[0]!, seen };
  } finally {
    running.child.kill('SIGTERM');
    await running.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const skip = realKernelSkipReason(['unshare', 'git', 'tar']);
  if (skip) return void process.stdout.write(`watch-cpu skipped: ${skip}\n`);
  const prepared = prepareAgents(
    agentSpecs(process.argv.slice(2), [
      ['before', BEFORE_REV],
      ['now', ROOT],
    ]),
  );
  const measure = async (label: string) => {
    for (const agent of prepared.agents) {
      const r = await idleCpu(agent);
      const seen = `${label} (${r.seen ?? '?'} seen)`;
      process.stdout.write(
        `${agent.name.padEnd(8)} ${seen.padEnd(28)} ${r.own.toFixed(2).padStart(7)} %   ${r.children.toFixed(2).padStart(7)} %   ${r.load.toFixed(1).padStart(5)}\n`,
      );
    }
  };
  try {
    process.stdout.write(`agents: ${prepared.agents.map((a) => `${a.name} = ${a.from}`).join(', ')}; ${IDLE_SECONDS} s idle each\n`);
    process.stdout.write(`${'agent'.padEnd(8)} ${'namespaces'.padEnd(28)} ${'CPU (own)'.padStart(9)}   ${'children'.padStart(9)}   load1\n`);
    const sleepers = await namespaces(NAMESPACES);
    try {
      await measure(`${NAMESPACES} made`);
    } finally {
      for (const s of sleepers) s.kill();
    }
    await measure('none made');
  } finally {
    prepared.cleanup();
  }
  process.stdout.write(
    `\nCPU as % of one core over ${IDLE_SECONDS} s (utime+stime / CLK_TCK ${CLK_TCK}); children: processes the agent ran and reaped (conntrack -L for the breakdown, ...). load1: the machine's 1-minute load average at the end.\n`,
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err === interrupt.signal.reason) process.stderr.write('interrupted: every process it started is ended\n');
    else process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(interrupt.signal.aborted ? 130 : 1);
  },
);

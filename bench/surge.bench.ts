// `npm run bench -- surge` (root, real kernel): what a connection surge does to
// a table of 8,192 entries, with no agent and with each agent under test.
//
// For each place — a pod-like test namespace (with a process in it, not the
// host's), and the host's own namespace — and each surge:
//   ramp: held-open TCP connections to 127.0.0.1, 500 per second for 36 s
//         (ESTABLISHED and ASSURED: the kernel cannot early-drop them);
//   step: twice the table (16,384 connections) started within 1 s;
//   udp:  500 new UDP flows per second for 36 s, each answered by an echo
//         server (replied but not ASSURED: the kernel early-drops them);
// and each agent: none (a static table), the agent as it was (the last landed
// tree, BEFORE), and the agent now (this tree); any other with --agent.
// The agent runs standalone in the host namespace with
// table.autoSize {memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: 8192}
// and its default interval. Per run it prints: packets dropped (the
// namespace's stat-file `drop`, and `early_drop`, before/after), connections
// that failed (not established 8 s after the last start) and that were late
// (at least one SYN retransmit), the time to the first drop, the forecast's
// lead time (the first FillingUp in the agent's status or log, before the
// static table's first drop), and the writes (nf_conntrack_max and buckets as
// the kernel shows them, polled every 100 ms; and the agent's "applied" lines
// naming them). Repeated runs (--repeat N) print min / median / max.
//
// Safety: nf_conntrack_max is lowered to 8,192 under the shared lock
// (test/support/lowered-max.ts) for each run, and max and buckets are restored
// in finally (an agent sizes both); traffic stays on 127.0.0.1, bounded in
// count (at most 18,000 flows a run) and time (test/support/traffic.ts); every
// namespace and process is removed in finally, Ctrl-C included
// (bench/support/interrupt.ts).
//
// The host namespace tracks loopback traffic only when some rule there uses
// conntrack. Where none does, the host runs are skipped: making it track would
// mean adding a rule to the host's own firewall, and filling the host's table
// drops every new host connection on the machine while it lasts. On a machine
// of your own, --host-firewall adds a table of ours for the run
// (`inet ctop_bench_surge`, one `ct state new` counter in output; deleted in
// finally).
//
// Flags: --only SUBSTRING (of "pod-ramp-static", "host-step-now", ...;
// repeatable), --repeat N, --agent NAME=SPEC (bench/support/agents.ts;
// repeatable, replaces the default before/now), --host-firewall.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseStatFile } from '../src/kernel/stats.js';
import type { NodeStatusDoc } from '../src/api/v1alpha1/status.js';
import { standaloneArgs, startAgent, type RunningAgent } from '../test/cli/cli-support.js';
import { withGlobalTable } from '../test/support/lowered-max.js';
import { execInOk, realKernelSkipReason, withNetns } from '../test/support/netns.js';
import { sleeperIn } from '../test/support/netns-process.js';
import { RealCommandRunner } from '../src/kernel/command-runner.js';
import { agentSpecs, autoSizePolicy, BEFORE_REV, prepareAgents, ROOT, type AgentUnderTest } from './support/agents.js';
import { Interrupt } from './support/interrupt.js';
import { spreadText } from './support/spread.js';

const TRAFFIC = fileURLToPath(new URL('../test/support/traffic.ts', import.meta.url));
const NETFILTER = '/proc/sys/net/netfilter';
const MAX = 8192;
const RATE = 500;
const RAMP_SECONDS = 36;
const GRACE_SECONDS = 8;
const SAMPLE_MS = 100;
const POLICY = autoSizePolicy('surge', MAX);
const HOST_TABLE = 'ctop_bench_surge';

type Where = 'pod' | 'host';
type Surge = 'ramp' | 'step' | 'udp';
const PLACES: Where[] = ['pod', 'host'];
const SURGES: Surge[] = ['ramp', 'step', 'udp'];

interface Run {
  /** The namespace's entries when the run began (near 0, or the run measured leftovers). */
  startEntries: number;
  dropped: number;
  earlyDropped: number;
  attempted: number;
  /** Seconds the client took to start every flow (a loaded machine starts a 1 s burst late). */
  startSpanS: number;
  failed: number;
  late: number;
  /** Seconds from the surge's start; null when it never happened. */
  firstDropS: number | null;
  fillingUpS: number | null;
  /** The table's size as the kernel showed it changing: "max 8192→32768 +19.3s". */
  writes: string[];
  /** The agent's "applied" log lines that name max or buckets. */
  loggedWrites: number;
}

/** Where the surge runs: the command prefix into it, and the stat file of its namespace as this process reads it. */
interface Place {
  prefix: string[];
  statFile: string;
  /** Removes the run's entries once its processes have ended (the host's table outlives the run; a test namespace does not). */
  forget?: (protocol: 'tcp' | 'udp', port: string) => Promise<void>;
}

const interrupt = new Interrupt();
const runner = new RealCommandRunner();
const argv = process.argv.slice(2);
const flag = (name: string) => argv.flatMap((a, i) => (a === name && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
const only = flag('--only');
const repeat = Number(flag('--repeat')[0] ?? 1);
const hostFirewall = argv.includes('--host-firewall');
const selected = (name: string) => only.length === 0 || only.some((o) => name.includes(o));

const readNumber = async (path: string) => Number((await readFile(path, 'utf8')).trim());
const secondsSince = (t0: number, at: number | null) => (at === null ? null : (at - t0) / 1000);

/** A traffic.ts process: its JSON lines, the first one once printed, the last one once it exits. */
function traffic(prefix: string[], args: string[]) {
  const cmd = [...prefix, process.execPath, '--import', 'tsx', TRAFFIC, ...args];
  const child: ChildProcess = interrupt.track(spawn(cmd[0]!, cmd.slice(1), { stdio: ['pipe', 'pipe', 'inherit'], cwd: ROOT }));
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => lines.push(l));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let exited = false;
  void closed.then(() => (exited = true));
  return {
    first: () =>
      interrupt.until(
        `${args[0]} to start`,
        async () => {
          if (lines[0]) return JSON.parse(lines[0]) as Record<string, number>;
          if (exited) throw new Error(`traffic ${args.join(' ')} exited before its first line`);
          return undefined;
        },
        60_000,
      ),
    result: async () => {
      await closed;
      return JSON.parse(lines.at(-1) ?? '{}') as Record<string, number>;
    },
    /** Tells it to finish (servers hold until stdin closes) and waits for it. */
    end: async () => {
      child.stdin!.end();
      await closed;
    },
  };
}

/** What the place's namespace and the global table look like every SAMPLE_MS, and when they changed. */
class Sampler {
  private timer: NodeJS.Timeout | null = null;
  private last: { max: number; buckets: number } | null = null;
  firstDropAt: number | null = null;
  readonly changes: Array<{ at: number; key: 'max' | 'buckets'; from: number; to: number }> = [];

  private constructor(
    private readonly statFile: string,
    readonly before: { drop: number; earlyDrop: number; entries: number },
  ) {}

  static async start(statFile: string): Promise<Sampler> {
    const s = new Sampler(statFile, await Sampler.counters(statFile));
    await s.tick();
    s.timer = setInterval(() => void s.tick(), SAMPLE_MS);
    return s;
  }

  static async counters(statFile: string): Promise<{ drop: number; earlyDrop: number; entries: number }> {
    const { counters, entries } = parseStatFile(await readFile(statFile, 'utf8'));
    return { drop: counters?.drop ?? 0, earlyDrop: counters?.earlyDrop ?? 0, entries: entries ?? 0 };
  }

  private async tick(): Promise<void> {
    const at = Date.now();
    const [now, max, buckets] = await Promise.all([
      Sampler.counters(this.statFile),
      readNumber(`${NETFILTER}/nf_conntrack_max`),
      readNumber(`${NETFILTER}/nf_conntrack_buckets`),
    ]).catch(() => [null, null, null] as const);
    if (now === null || max === null || buckets === null) return;
    if (this.firstDropAt === null && now.drop > this.before.drop) this.firstDropAt = at;
    if (this.last && max !== this.last.max) this.changes.push({ at, key: 'max', from: this.last.max, to: max });
    if (this.last && buckets !== this.last.buckets) this.changes.push({ at, key: 'buckets', from: this.last.buckets, to: buckets });
    this.last = { max, buckets };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/** The first time the agent said FillingUp: a True condition in its status file (polled), or a log line. */
class FillingUpWatch {
  private timer: NodeJS.Timeout;
  firstAt: number | null = null;

  constructor(
    private readonly statusFile: string,
    private readonly agent: RunningAgent,
  ) {
    this.timer = setInterval(() => void this.poll(), 250);
  }

  private async poll(): Promise<void> {
    const doc = await readFile(this.statusFile, 'utf8').catch(() => null);
    if (doc === null || this.firstAt !== null) return;
    try {
      const c = (JSON.parse(doc) as { status: NodeStatusDoc }).status.conditions.find((x) => String(x.type) === 'FillingUp');
      if (c?.status === 'True') this.firstAt = Math.min(Date.now(), Date.parse(c.lastTransitionTime) || Date.now());
    } catch {
      // being replaced: the next poll reads it
    }
  }

  stop(): number | null {
    clearInterval(this.timer);
    const logged = this.agent
      .log()
      .split('\n')
      .filter((l) => /FillingUp|filling up/i.test(l))
      .map((l) => Date.parse((JSON.parse(l) as { time?: string }).time ?? ''))
      .filter((t) => !Number.isNaN(t));
    const all = [...logged, ...(this.firstAt === null ? [] : [this.firstAt])];
    return all.length ? Math.min(...all) : null;
  }
}

/** "applied" lines of the agent's log that name max or buckets. */
function loggedTableWrites(agent: RunningAgent): number {
  return agent
    .log()
    .split('\n')
    .filter((l) => l.includes('"msg":"applied"') && /nf_conntrack_max|"buckets"/.test(l)).length;
}

async function startAgentFor(agent: AgentUnderTest, dir: string): Promise<{ running: RunningAgent; statusFile: string }> {
  const statusFile = join(dir, 'status.json');
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  const running = startAgent(
    [...standaloneArgs(dir), '--node-name', 'surge-bench', '--notrack-backend', 'nftables', '--metrics-addr', '127.0.0.1:0'],
    [],
    agent.cli,
  );
  interrupt.track(running.child);
  await interrupt.until(
    `${agent.name}'s first status`,
    async () => {
      if (running.child.exitCode !== null) throw new Error(`${agent.name} exited ${running.child.exitCode}: ${running.log().slice(-2000)}`);
      return (await readFile(statusFile, 'utf8').catch(() => '')) ? true : undefined;
    },
    120_000,
  );
  return { running, statusFile };
}

/** One surge at one place with one agent (or none), the global max lowered to MAX for it. */
async function runOnce(place: Place, surge: Surge, agent: AgentUnderTest | null): Promise<Run> {
  return withGlobalTable(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctop-surge-'));
    let running: RunningAgent | null = null;
    let watch: FillingUpWatch | null = null;
    let sampler: Sampler | null = null;
    const servers: Array<ReturnType<typeof traffic>> = [];
    let port: string | null = null;
    try {
      writeFileSync(`${NETFILTER}/nf_conntrack_max`, String(MAX));
      // From before the agent starts: its first pass's writes show too (at negative times).
      sampler = await Sampler.start(place.statFile);
      if (agent) {
        const started = await startAgentFor(agent, dir);
        running = started.running;
        watch = new FillingUpWatch(started.statusFile, running);
      }
      const server = traffic(place.prefix, [surge === 'udp' ? 'serve-udp' : 'serve-tcp', '120']);
      servers.push(server);
      port = String((await server.first()).port);
      const client = traffic(
        place.prefix,
        surge === 'ramp'
          ? ['tcp-ramp', port, String(RATE), String(RAMP_SECONDS), String(GRACE_SECONDS)]
          : surge === 'step'
            ? ['tcp-burst', port, String(2 * MAX), String(GRACE_SECONDS)]
            : ['udp-ramp', port, String(RATE), String(RAMP_SECONDS)],
      );
      servers.push(client);
      const t0 = (await client.first()).startedAtMs!;
      const result = await client.result();
      await interrupt.sleep(1000);
      sampler.stop();
      const after = await Sampler.counters(place.statFile);
      const fillingUpAt = watch?.stop() ?? null;
      interrupt.check();
      return {
        startEntries: sampler.before.entries,
        dropped: after.drop - sampler.before.drop,
        earlyDropped: after.earlyDrop - sampler.before.earlyDrop,
        attempted: result.attempted ?? 0,
        startSpanS: (result.startSpanMs ?? 0) / 1000,
        failed: result.failed ?? 0,
        late: result.late ?? 0,
        firstDropS: secondsSince(t0, sampler.firstDropAt),
        fillingUpS: secondsSince(t0, fillingUpAt),
        writes: sampler.changes.map((c) => `${c.key} ${c.from}→${c.to} ${((c.at - t0) / 1000).toFixed(1)}s`),
        loggedWrites: running ? loggedTableWrites(running) : 0,
      };
    } finally {
      sampler?.stop();
      watch?.stop();
      // The agent goes first: it must not size the table again after the restore.
      if (running) {
        running.child.kill('SIGTERM');
        await running.exited;
      }
      await Promise.all(servers.map((s) => s.end()));
      if (port !== null) await place.forget?.(surge === 'udp' ? 'udp' : 'tcp', port);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** A pod-like namespace: its own table, and a process in it so that an agent's census sees it. */
async function inPod<T>(fn: (place: Place) => Promise<T>): Promise<T> {
  return withNetns('surge', async (ns) => {
    // The burst must not wait on the listener's queue (somaxconn is this namespace's own).
    await execInOk(ns, 'sysctl', ['-q', '-w', 'net.core.somaxconn=65535']);
    const sleeper = interrupt.track((await sleeperIn(ns, 3600)).child);
    try {
      return await fn({ prefix: ['ip', 'netns', 'exec', ns], statFile: `/proc/${sleeper.pid}/net/stat/nf_conntrack` });
    } finally {
      sleeper.kill();
    }
  });
}

/** Whether a loopback connection in this (the host's) namespace gets a conntrack entry. */
async function hostTracksLoopback(): Promise<boolean> {
  const server = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const before = await readNumber(`${NETFILTER}/nf_conntrack_count`);
  const client = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const during = await readNumber(`${NETFILTER}/nf_conntrack_count`);
  client.destroy();
  server.close();
  return during > before;
}

async function inHost<T>(fn: (place: Place) => Promise<T>): Promise<T | string> {
  const place: Place = {
    prefix: [],
    statFile: '/proc/self/net/stat/nf_conntrack',
    // Only our flows (to the run's port on 127.0.0.1): the rest of the host's table is not ours. Exit 1 = none left.
    forget: async (protocol, port) => void (await runner.run('conntrack', ['-D', '-p', protocol, '--orig-dst', '127.0.0.1', '--dport', port])),
  };
  if (await hostTracksLoopback()) return fn(place);
  if (!hostFirewall) {
    return 'skipped: no rule in the host namespace uses conntrack, so its loopback traffic is not tracked; --host-firewall adds one for the run (on a machine of your own: a full host table drops every new host connection)';
  }
  const nft = async (input: string) => {
    const r = await runner.run('nft', ['-f', '-'], { input });
    if (r.code !== 0) throw new Error(`nft: ${r.stderr.trim()}`);
  };
  await nft(
    `table inet ${HOST_TABLE} {\n comment "conntrack-operator surge bench"\n chain out {\n type filter hook output priority 0;\n ct state new counter\n }\n}\n`,
  );
  try {
    return await fn(place);
  } finally {
    await nft(`delete table inet ${HOST_TABLE}\n`);
  }
}

function row(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
}

async function main(): Promise<void> {
  const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl', 'git', 'tar']);
  if (skip) return void process.stdout.write(`surge skipped: ${skip}\n`);
  const prepared = prepareAgents(
    agentSpecs(argv, [
      ['before', BEFORE_REV],
      ['now', ROOT],
    ]),
  );
  const agents: Array<AgentUnderTest | null> = [null, ...prepared.agents];
  const nameOf = (a: AgentUnderTest | null) => a?.name ?? 'static';
  const results = new Map<string, Run[]>();
  const skipped = new Map<Where, string>();
  process.stdout.write(
    `max ${MAX}, ${RATE}/s for ${RAMP_SECONDS} s (ramp, udp), ${2 * MAX} in 1 s (step); agents: static (none), ${prepared.agents.map((a) => `${a.name} = ${a.from}`).join(', ')}\n`,
  );
  const started = Date.now();
  try {
    for (let r = 0; r < repeat; r++) {
      for (const where of PLACES) {
        const wanted = SURGES.flatMap((s) => agents.filter((a) => selected(`${where}-${s}-${nameOf(a)}`)).map((a) => [s, a] as const));
        if (wanted.length === 0 || skipped.has(where)) continue;
        for (const [surge, agent] of wanted) {
          interrupt.check();
          const name = `${where}-${surge}-${nameOf(agent)}`;
          // Every run starts from an empty table: a new namespace, or the host's without our earlier flows.
          const once = (place: Place) => runOnce(place, surge, agent);
          const got = where === 'pod' ? await inPod(once) : await inHost(once);
          if (typeof got === 'string') {
            skipped.set(where, got);
            process.stdout.write(`host: ${got}\n`);
            break;
          }
          results.set(name, [...(results.get(name) ?? []), got]);
          process.stdout.write(
            `${name}: ${got.startEntries} entries at the start, dropped ${got.dropped} (early ${got.earlyDropped}), failed ${got.failed}/${got.attempted} (all started in ${got.startSpanS.toFixed(1)} s), late ${got.late}, first drop ${got.firstDropS?.toFixed(1) ?? '-'} s, FillingUp ${got.fillingUpS?.toFixed(1) ?? '-'} s, writes [${got.writes.join(', ')}] (${got.loggedWrites} logged)\n`,
          );
        }
      }
    }
  } finally {
    prepared.cleanup();
  }
  print(results, agents.map(nameOf), skipped);
  process.stdout.write(`whole run: ${((Date.now() - started) / 60_000).toFixed(1)} min\n`);
}

function print(results: Map<string, Run[]>, agentNames: string[], skipped: Map<Where, string>): void {
  const header = [
    'surge',
    'agent',
    'started in s',
    'dropped',
    'early drops',
    'failed',
    'late (>=1 s)',
    'first drop s',
    'FillingUp lead s',
    'writes (kernel; logged)',
  ];
  const lines: string[][] = [];
  for (const where of PLACES) {
    for (const surge of SURGES) {
      const staticDrop = (results.get(`${where}-${surge}-static`) ?? []).flatMap((r) => (r.firstDropS === null ? [] : [r.firstDropS]));
      const staticFull = staticDrop.length ? staticDrop.sort((a, b) => a - b)[Math.floor((staticDrop.length - 1) / 2)]! : null;
      for (const agent of agentNames) {
        const runs = results.get(`${where}-${surge}-${agent}`);
        if (!runs) continue;
        const nums = (f: (r: Run) => number | null) => runs.flatMap((r) => (f(r) === null ? [] : [f(r)!]));
        const lead = staticFull === null ? [] : nums((r) => (r.fillingUpS === null ? null : staticFull - r.fillingUpS));
        lines.push([
          `${where}-${surge}`,
          agent,
          spreadText(
            nums((r) => r.startSpanS),
            1,
          ),
          spreadText(nums((r) => r.dropped)),
          spreadText(nums((r) => r.earlyDropped)),
          `${spreadText(nums((r) => r.failed))} of ${runs[0]!.attempted}`,
          spreadText(nums((r) => r.late)),
          spreadText(
            nums((r) => r.firstDropS),
            1,
          ),
          agent === 'static' ? '' : spreadText(lead, 1),
          agent === 'static' ? '' : `${runs[0]!.writes.join(', ') || 'none'}; ${runs[0]!.loggedWrites}`,
        ]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  process.stdout.write(
    `\n${row(header, widths)}\n${row(
      header.map((_, i) => '-'.repeat(widths[i]!)),
      widths,
    )}\n`,
  );
  for (const l of lines) process.stdout.write(`${row(l, widths)}\n`);
  for (const [where, why] of skipped) process.stdout.write(`${where}: ${why}\n`);
  process.stdout.write(
    "\"-\" = never happened (or not measured). FillingUp lead = the static table's first drop minus the agent's first FillingUp (positive: before it). Writes as the kernel showed them, in seconds from the surge's start (negative: the agent's first pass), first run.\n",
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    if (err === interrupt.signal.reason) process.stderr.write('interrupted: every namespace, process and the global table are cleaned up\n');
    else process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(interrupt.signal.aborted ? 130 : 1);
  },
);

// Benchmark of a pass's reading of the host at 50,000 pids:
// `npm run bench -- pass-reading` (issue #22: every pid walked once, slabinfo
// read once). A generated proc tree (bench/support/proc-tree.ts: 50,000 pids
// in 500 namespaces, kube-proxy and kubelet among them) is read, as the agent
// pass reads it, by a whole process started per run with --proc-root-style
// roots:
//   before: revision 3874535 (the snapshot's kube-proxy/kubelet scan, then
//           the census's own walk and slab read: readHostSnapshot +
//           readNetnsCensus, as its agent-pass did);
//   now:    this tree's readHostReading (one walk, one slab read).
// The two run in turn (A B A B ...) RUNS times; per run: the whole process's
// wall, user+sys CPU and peak RSS (GNU time), and the pass alone as the
// process timed it. Printed min/median/max, and the median of the now/before
// ratios taken pair by pair (the machine is shared: ratios within a run hold
// better than absolute times). --runs N to change RUNS.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareAgents, ROOT } from './support/agents.js';
import { generateProcTree } from './support/proc-tree.js';

const PIDS = 50_000;
const NAMESPACES = 500;
/** The last revision that walked the pids twice a pass (kube-proxy scan, then census). */
const TWO_WALKS_REV = '3874535';
const runsFlag = process.argv.indexOf('--runs');
const RUNS = runsFlag > 0 ? Number(process.argv[runsFlag + 1]) : 7;

/** The driver each tree runs: one pass's reading of the host, as that tree's agent pass does it; prints what it found and how long the reading took. */
const DRIVERS = {
  before: (src: string) => `
import { realHost } from '${src}/kernel/host.js';
import { readHostSnapshot } from '${src}/kernel/snapshot.js';
import { readNetnsCensus } from '${src}/kernel/netns-census.js';
const host = realHost({ procRoot: process.argv[2]!, sysRoot: process.argv[3]! }, true);
const start = performance.now();
const snapshot = await readHostSnapshot(host);
const census = snapshot.moduleLoaded ? await readNetnsCensus(host, snapshot.netns) : null;
const ms = performance.now() - start;
console.log(JSON.stringify({ ms, kubeProxy: snapshot.kubeProxy?.pids, processes: census?.processes, namespaces: census?.namespaces.length, slab: census?.slab?.activeObjects }));
`,
  now: (src: string) => `
import { realHost } from '${src}/kernel/host.js';
import { readHostReading } from '${src}/kernel/snapshot.js';
const host = realHost({ procRoot: process.argv[2]!, sysRoot: process.argv[3]! }, true);
const start = performance.now();
const { snapshot, census } = await readHostReading(host);
const ms = performance.now() - start;
console.log(JSON.stringify({ ms, kubeProxy: snapshot.kubeProxy?.pids, processes: census?.processes, namespaces: census?.namespaces.length, slab: census?.slab?.activeObjects }));
`,
};

interface Run {
  wall: number;
  cpu: number;
  rssMb: number;
  passMs: number;
  found: string;
}

function runOnce(driver: string, cwd: string, procRoot: string, sysRoot: string): Run {
  const r = spawnSync('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, '--import', 'tsx', driver, procRoot, sysRoot], { cwd, encoding: 'utf8' });
  const time = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !time) throw new Error(`${driver} failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { ms: number } & Record<string, unknown>;
  const { ms, ...found } = out;
  return { wall: Number(time[1]), cpu: Number(time[2]) + Number(time[3]), rssMb: Number(time[4]) / 1024, passMs: ms, found: JSON.stringify(found) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[], digits: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return `${s[0]!.toFixed(digits)} / ${median(s).toFixed(digits)} / ${s.at(-1)!.toFixed(digits)}`;
};

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-pass-reading-'));
  const before = prepareAgents([['before', TWO_WALKS_REV]]);
  try {
    const started = performance.now();
    generateProcTree(dir, PIDS, NAMESPACES);
    process.stdout.write(`generated tree: ${PIDS} pids in ${NAMESPACES} namespaces in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    const beforeTree = before.agents[0]!.cli.cwd!;
    const drivers = {
      before: { file: join(beforeTree, 'pass-driver.mts'), cwd: beforeTree },
      now: { file: join(dir, 'pass-driver.mts'), cwd: ROOT },
    };
    writeFileSync(drivers.before.file, DRIVERS.before(join(beforeTree, 'src')));
    writeFileSync(drivers.now.file, DRIVERS.now(join(ROOT, 'src')));
    const procRoot = join(dir, 'proc');
    const sysRoot = join(dir, 'sys');
    const runs: Record<'before' | 'now', Run[]> = { before: [], now: [] };
    for (const name of ['before', 'now'] as const) runOnce(drivers[name].file, drivers[name].cwd, procRoot, sysRoot); // warm-up: page cache, tsx's cache
    for (let i = 0; i < RUNS; i++) {
      for (const name of ['before', 'now'] as const) runs[name].push(runOnce(drivers[name].file, drivers[name].cwd, procRoot, sysRoot));
    }
    process.stdout.write(`before = revision ${TWO_WALKS_REV}, now = this tree; ${RUNS} runs each, alternated; min / median / max\n`);
    for (const name of ['before', 'now'] as const) {
      const r = runs[name];
      process.stdout.write(`${name}: found ${r[0]!.found}\n`);
      process.stdout.write(
        `${name}: pass ms ${spread(
          r.map((x) => x.passMs),
          0,
        )}; process wall s ${spread(
          r.map((x) => x.wall),
          2,
        )}; process CPU s ${spread(
          r.map((x) => x.cpu),
          2,
        )}; peak RSS MB ${spread(
          r.map((x) => x.rssMb),
          0,
        )}\n`,
      );
    }
    const ratio = (f: (r: Run) => number) => median(runs.now.map((n, i) => f(n) / f(runs.before[i]!))).toFixed(2);
    process.stdout.write(
      `now / before, median of pairs: pass ${ratio((r) => r.passMs)}, process wall ${ratio((r) => r.wall)}, process CPU ${ratio((r) => r.cpu)}\n`,
    );
  } finally {
    before.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

main();

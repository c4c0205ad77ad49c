// Benchmark of the network namespace census: `npm run bench -- netns-census`.
// 1. A generated proc tree in a temp dir: 50,000 pids in 500 namespaces (100
//    each), laid out as /proc is: every pid's `net` a symlink to its
//    namespace's one directory (so net/stat is one inode per namespace, what
//    the census keys by) holding net/stat/nf_conntrack (this kernel's file, 2
//    CPUs), ns/net a real symlink whose target is "net:[inode]" (as readlink on
//    /proc returns), and cgroup (a kubelet systemd-driver path).
// 2. The real /proc of this machine.
// For each: time per pass (min/median/max of PASSES), the files touched per
// pass, and the RSS the census adds (after a warm-up pass and GC, RSS after
// PASSES passes minus before, with the last result held as an agent would;
// and the heap still used after GC, which is what the census keeps). Then the
// keying step alone, per pid, both ways: stat of net/stat (the census now,
// no ptrace rights needed) against readlink of ns/net (the census before,
// which needed CAP_SYS_PTRACE).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realHost, type Host } from '../src/kernel/host.js';
import { listPids, mapInBatches } from '../src/kernel/processes.js';
import { RealKernelFiles, type KernelFiles } from '../src/kernel/kernel-files.js';
import { readNetnsFacts } from '../src/kernel/host-facts.js';
import { readNetnsCensus, type NetnsCensus } from '../src/kernel/netns-census.js';
import { generateProcTree } from './support/proc-tree.js';

const PIDS = 50_000;
const NAMESPACES = 500;
const PASSES = 15;
const MB = 1024 * 1024;

function print(name: string, value: string | number): void {
  process.stdout.write(`${name}: ${value}\n`);
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** KernelFiles counting what one pass touches. */
function counting(inner: KernelFiles): KernelFiles & { reads: number; links: number; stats: number } {
  const c = {
    reads: 0,
    links: 0,
    stats: 0,
    read: (p: string) => (c.reads++, inner.read(p)),
    readLink: (p: string) => (c.links++, inner.readLink(p)),
    inode: (p: string) => (c.stats++, inner.inode(p)),
    linkCount: (p: string) => inner.linkCount(p),
    list: (d: string) => inner.list(d),
    write: (p: string, d: string) => inner.write(p, d),
    canWrite: (p: string) => inner.canWrite(p),
    mode: (p: string) => inner.mode(p),
    stream: (p: string) => inner.stream(p),
  };
  return c;
}

async function measure(label: string, procRoot: string): Promise<void> {
  const files = counting(new RealKernelFiles());
  const host = { ...realHost({ procRoot, sysRoot: '/sys' }, process.geteuid?.() === 0), files };
  const self = await readNetnsFacts(host);
  let held: NetnsCensus = await readNetnsCensus(host, self); // warm-up
  gc();
  const { rss: rssBefore, heapUsed: heapBefore } = process.memoryUsage();
  const times: number[] = [];
  files.reads = 0;
  files.links = 0;
  files.stats = 0;
  for (let i = 0; i < PASSES; i++) {
    const start = performance.now();
    held = await readNetnsCensus(host, self);
    times.push(performance.now() - start);
  }
  gc();
  const { rss: rssAfter, heapUsed: heapAfter } = process.memoryUsage();
  times.sort((a, b) => a - b);
  print(
    `${label}: processes, namespaces, unreadable, vanished`,
    `${held.processes}, ${held.namespaces.length}, ${held.unreadableProcesses}, ${held.vanishedProcesses}`,
  );
  print(
    `${label}: ms per pass min/median/max of ${PASSES}`,
    `${times[0]!.toFixed(1)} / ${times[Math.floor(PASSES / 2)]!.toFixed(1)} / ${times.at(-1)!.toFixed(1)}`,
  );
  print(`${label}: stats, readlinks and file reads per pass`, `${files.stats / PASSES}, ${files.links / PASSES} and ${files.reads / PASSES}`);
  print(`${label}: RSS added over ${PASSES} passes (MB)`, ((rssAfter - rssBefore) / MB).toFixed(1));
  print(`${label}: heap retained after GC, last result held (MB)`, ((heapAfter - heapBefore) / MB).toFixed(2));
  print(`${label}: RSS now (MB)`, (rssAfter / MB).toFixed(1));
  await keying(label, host);
}

/**
 * The keying step alone, over every pid, both ways, alternated PASSES times
 * so that both see the same machine load: stat of <pid>/net/stat against
 * readlink of <pid>/ns/net. CPU time (user + system) is what the agent pays.
 */
async function keying(label: string, host: Host): Promise<void> {
  const pids = await listPids(host);
  const ways: Record<string, (pid: string) => Promise<unknown>> = {
    'stat net/stat': (pid) => host.files.inode(host.paths.netStat(pid)).catch(() => null),
    'readlink ns/net': (pid) => host.files.readLink(host.paths.netns(pid)).catch(() => null),
  };
  const times: Record<string, number[]> = { 'stat net/stat': [], 'readlink ns/net': [] };
  for (let i = 0; i < PASSES; i++) {
    for (const [way, fn] of Object.entries(ways)) {
      const start = process.cpuUsage();
      await mapInBatches(pids, fn);
      const used = process.cpuUsage(start);
      times[way]!.push((used.user + used.system) / 1000);
    }
  }
  for (const [way, t] of Object.entries(times)) {
    t.sort((a, b) => a - b);
    print(
      `${label}: ${way} over ${pids.length} pids, CPU ms min/median/max of ${PASSES}`,
      `${t[0]!.toFixed(1)} / ${t[Math.floor(PASSES / 2)]!.toFixed(1)} / ${t.at(-1)!.toFixed(1)}`,
    );
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-netns-census-'));
  try {
    const start = performance.now();
    generateProcTree(dir, PIDS, NAMESPACES);
    print(`generated tree: ${PIDS} pids in ${NAMESPACES} namespaces (s)`, ((performance.now() - start) / 1000).toFixed(1));
    await measure('generated', join(dir, 'proc'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await measure('real /proc', '/proc');
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

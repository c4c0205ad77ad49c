// Benchmark of the network namespace census: `node --expose-gc --import tsx bench/netns-census.bench.ts`.
// 1. A generated proc tree in a temp dir: 10,000 pids in 500 namespaces (20
//    each), every pid with ns/net (a real symlink whose target is
//    "net:[inode]", as readlink on /proc returns), net/stat/nf_conntrack (this
//    kernel's file, 2 CPUs) and cgroup (a kubelet systemd-driver path).
// 2. The real /proc of this machine.
// For each: time per pass (min/median/max of PASSES), the files touched per
// pass, and the RSS the census adds (after a warm-up pass and GC, RSS after
// PASSES passes minus before, with the last result held as an agent would;
// and the heap still used after GC, which is what the census keeps).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { realHost } from '../src/kernel/host.js';
import { RealKernelFiles, type KernelFiles } from '../src/kernel/kernel-files.js';
import { readNetnsFacts } from '../src/kernel/host-facts.js';
import { readNetnsCensus, type NetnsCensus } from '../src/kernel/netns-census.js';

const PIDS = 10_000;
const NAMESPACES = 500;
const PASSES = 15;
const FIRST_INODE = 4026532000;
const STAT_FILE = readFileSync(fileURLToPath(new URL('../test/fixtures/with-table/proc/self/net/stat/nf_conntrack', import.meta.url)), 'utf8');
const MB = 1024 * 1024;

function print(name: string, value: string | number): void {
  process.stdout.write(`${name}: ${value}\n`);
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** pid p (1-based) lives in namespace p % NAMESPACES; pid 1 in the host's. */
function generateTree(dir: string): void {
  for (let p = 1; p <= PIDS; p++) {
    const pidDir = join(dir, 'proc', String(p));
    mkdirSync(join(pidDir, 'net/stat'), { recursive: true });
    mkdirSync(join(pidDir, 'ns'));
    const ns = p === 1 ? 0 : p % NAMESPACES;
    symlinkSync(`net:[${FIRST_INODE + ns}]`, join(pidDir, 'ns/net'));
    writeFileSync(join(pidDir, 'net/stat/nf_conntrack'), STAT_FILE);
    const uid = `0f3b0c1e_7a2d_4c55_9a8e_${String(ns).padStart(12, '0')}`;
    writeFileSync(
      join(pidDir, 'cgroup'),
      ns === 0 ? '0::/init.scope\n' : `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid}.slice/cri-containerd-${p}.scope\n`,
    );
  }
  writeFileSync(
    join(dir, 'proc/slabinfo'),
    'slabinfo - version: 2.1\nnf_conntrack        100    112    256   16    1 : tunables    0    0    0 : slabdata      7      7      0\n',
  );
}

/** KernelFiles counting what one pass touches. */
function counting(inner: KernelFiles): KernelFiles & { reads: number; links: number } {
  const c = {
    reads: 0,
    links: 0,
    read: (p: string) => (c.reads++, inner.read(p)),
    readLink: (p: string) => (c.links++, inner.readLink(p)),
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
  print(`${label}: readlinks and file reads per pass`, `${files.links / PASSES} and ${files.reads / PASSES}`);
  print(`${label}: RSS added over ${PASSES} passes (MB)`, ((rssAfter - rssBefore) / MB).toFixed(1));
  print(`${label}: heap retained after GC, last result held (MB)`, ((heapAfter - heapBefore) / MB).toFixed(2));
  print(`${label}: RSS now (MB)`, (rssAfter / MB).toFixed(1));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-netns-census-'));
  try {
    const start = performance.now();
    generateTree(dir);
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

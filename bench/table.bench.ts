// Benchmark of the table reader: `node --import tsx bench/table.bench.ts`.
// 1. In a namespace it creates, fills the table with 200,000 UDP entries
//    (bounded sends to 127.0.0.0/8, UDP timeout raised in that namespace only)
//    and times, inside the namespace, in one run: the bare dump
//    (conntrack -L -o extended > /dev/null), the field notes' awk pipeline, and
//    our full summary (stream + parse + summary) from conntrack -L and from
//    /proc/self/net/nf_conntrack.
// 2. Parses a 1,000,000-line dump (real captured lines replicated with varied
//    addresses and ports, in a temp file) and reports lines/s and heap growth.
// Prints plain `name: value` lines. Targets: summary <= 1.2x the bare dump,
// parsing >= 1,000,000 lines/s, heap growth < 64 MB.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealCommandRunner } from '../src/kernel/command-runner.js';
import { EntryParser } from '../src/kernel/entry-parser.js';
import { HostPaths } from '../src/kernel/host-paths.js';
import { RealKernelFiles, type KernelFiles } from '../src/kernel/kernel-files.js';
import { readConntrackSysctls } from '../src/kernel/sysctls.js';
import { openTableStream, type TableStream } from '../src/kernel/table-stream.js';
import { summarizeBatches, type TableSummary } from '../src/report/summary.js';
import { execInOk, makeUdpFlows, realKernelSkipReason, setNetnsSysctl, withNetns } from '../test/support/netns.js';
import { withoutTableFile } from '../test/support/netns-probe.js';

const SELF = fileURLToPath(import.meta.url);
const FILL_ENTRIES = 200_000;
const DUMP_LINES = 1_000_000;
const ROUNDS = 3;
const MB = 1024 * 1024;
const SAMPLE_LINES = fileURLToPath(new URL('../test/fixtures/with-table/proc/self/net/nf_conntrack', import.meta.url));

function print(name: string, value: string | number): void {
  process.stdout.write(`${name}: ${value}\n`);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

/** The fastest of ROUNDS runs: the least disturbed by other load on the machine. */
async function best<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let fastest: { ms: number; value: T } | undefined;
  for (let i = 0; i < ROUNDS; i++) {
    const r = await timed(fn);
    if (!fastest || r.ms < fastest.ms) fastest = r;
  }
  return fastest!;
}

async function sh(runner: RealCommandRunner, script: string): Promise<string> {
  const r = await runner.run('sh', ['-c', script], { timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`sh -c ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function summarize(files: KernelFiles, paths: HostPaths, runner: RealCommandRunner, sysctls: Record<string, number>): Promise<{ source: string; summary: TableSummary }> {
  const table = await openTableStream({ files, paths, runner, isRoot: true });
  if (table.source === null) throw new Error(`table unreadable: ${JSON.stringify(table.unreadable)}`);
  return { source: table.source, summary: await summarizeBatches(table.batches, { sysctls }) };
}

/** Part 1, run inside the filled namespace. */
async function measureInNamespace(): Promise<void> {
  const runner = new RealCommandRunner();
  const paths = new HostPaths({ procRoot: '/proc', sysRoot: '/sys' });
  const files = new RealKernelFiles();
  const { values: sysctls } = await readConntrackSysctls(files, paths);
  print('table entries', sysctls.nf_conntrack_count ?? 'unknown');
  const bare = await best(() => sh(runner, 'conntrack -L -o extended > /dev/null 2>&1'));
  const awk = await best(() => sh(runner, "conntrack -L -o extended 2>/dev/null | awk '{sum[$3]++} END {for (k in sum) print k, sum[k]}'"));
  const viaCommand = await best(() => summarize(withoutTableFile(files, paths), paths, runner, sysctls));
  const viaFile = await best(() => summarize(files, paths, runner, sysctls));
  print('bare dump conntrack -L -o extended (ms)', bare.ms.toFixed(0));
  print('awk pipeline (ms)', awk.ms.toFixed(0));
  print(`our summary via ${viaCommand.value.source} (ms)`, viaCommand.ms.toFixed(0));
  print(`our summary via ${viaFile.value.source} /proc/self/net/nf_conntrack (ms)`, viaFile.ms.toFixed(0));
  print('awk / bare', (awk.ms / bare.ms).toFixed(2));
  print('our summary via conntrack -L / bare (target <= 1.2)', (viaCommand.ms / bare.ms).toFixed(2));
  print('our summary via file / bare (target <= 1.2)', (viaFile.ms / bare.ms).toFixed(2));
  print('awk says', awk.value.trim().replace(/\n/g, ', '));
  print('summary says', JSON.stringify(viaFile.value.summary.byProtocol));
  print('summary top destination exact', String(viaFile.value.summary.topAccuracy.destinations.exact));
}

/** Real captured lines, replicated with varied addresses and ports. */
function writeDump(path: string): void {
  const samples = readFileSync(SAMPLE_LINES, 'utf8').split('\n').filter((l) => l.startsWith('ipv4 '));
  const out: string[] = [];
  for (let i = 0; i < DUMP_LINES; i++) {
    const a = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    out.push(samples[i % samples.length]!.replace(/src=127\.0\.0\.1/g, `src=${a}`).replace(/sport=\d+/, `sport=${1024 + (i % 60000)}`));
    if (out.length === 50_000) {
      writeFileSync(path, `${out.join('\n')}\n`, { flag: 'a' });
      out.length = 0;
    }
  }
}

/** Part 2: a saved 1,000,000-line dump through the file path of the table stream. */
async function measureDump(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-bench-'));
  try {
    mkdirSync(join(dir, 'proc', 'self', 'net'), { recursive: true });
    const dumpPath = join(dir, 'proc', 'self', 'net', 'nf_conntrack');
    writeDump(dumpPath);
    const paths = new HostPaths({ procRoot: join(dir, 'proc'), sysRoot: join(dir, 'sys') });
    const deps = { files: new RealKernelFiles(), paths, runner: new RealCommandRunner() };

    const lines = readFileSync(dumpPath, 'latin1').split('\n');
    lines.pop();
    const inMemory = await best(async () => {
      const parser = new EntryParser();
      for (const l of lines) parser.parse(l);
      return parser.parsed;
    });
    lines.length = 0;
    print('dump lines', inMemory.value);
    print('parse only, lines in memory (lines/s, target >= 1,000,000)', Math.round(DUMP_LINES / (inMemory.ms / 1000)));

    let peak = 0;
    const base = process.memoryUsage().heapUsed;
    const streamed = await best(async () => {
      const table = (await openTableStream(deps)) as TableStream;
      let n = 0;
      for await (const batch of table.batches) {
        n += batch.length;
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
      return n;
    });
    print('read + parse from file (lines/s)', Math.round(streamed.value / (streamed.ms / 1000)));
    const summarized = await best(async () => {
      const table = (await openTableStream(deps)) as TableStream;
      const counted = (async function* () {
        for await (const batch of table.batches) {
          peak = Math.max(peak, process.memoryUsage().heapUsed);
          yield batch;
        }
      })();
      return summarizeBatches(counted, { sysctls: {} });
    });
    print('read + parse + summary from file (lines/s)', Math.round(DUMP_LINES / (summarized.ms / 1000)));
    print('summary top sources exact', String(summarized.value.topAccuracy.sources.exact));
    print('peak heap growth over the reads, garbage included (MB, target < 64)', ((peak - base) / MB).toFixed(1));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** How fast this machine runs plain JS, to read the figures above against. */
function calibrate(): void {
  const start = performance.now();
  let x = 0;
  for (let i = 0; i < 100_000_000; i++) x = (x + i) & 0xffff;
  print('calibration: 1e8 simple loop iterations (ms; ~60-100 on a typical x86 core)', (performance.now() - start).toFixed(0));
}

async function main(): Promise<void> {
  if (process.argv.includes('--measure-in-namespace')) return measureInNamespace();
  calibrate();
  const skip = realKernelSkipReason();
  if (skip) print('namespace benchmark skipped', skip);
  else {
    await withNetns('bench', async (ns) => {
      await setNetnsSysctl(ns, 'nf_conntrack_udp_timeout', 600);
      const fill = await timed(() => makeUdpFlows(ns, FILL_ENTRIES, 180_000));
      print(`fill ${FILL_ENTRIES} udp flows (ms)`, fill.ms.toFixed(0));
      process.stdout.write(await execInOk(ns, process.execPath, ['--import', 'tsx', SELF, '--measure-in-namespace'], { timeoutMs: 600_000 }));
    });
  }
  await measureDump();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});

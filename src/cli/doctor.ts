// `conntrack-operator doctor`: read-only diagnosis of this host's table.
import type { Config } from '../config.js';
import { readHostSnapshot, type HostSnapshot } from '../kernel/snapshot.js';
import { readNetnsCensus } from '../kernel/netns-census.js';
import { readConntrackStats } from '../kernel/stats.js';
import { dropWindow, type CounterSample, type DropWindow } from '../report/drops.js';
import { openTableStream } from '../kernel/table-stream.js';
import { buildDoctorReport, doctorExitCode, type DoctorReport } from '../report/doctor-report.js';
import { renderDoctorText } from '../report/doctor-text.js';
import { summarizeBatches, type TableSummary } from '../kernel/table-summary.js';
import type { Unreadable } from '../kernel/unreadable.js';
import type { Host } from '../kernel/host.js';
import { renderData } from './output.js';
import type { CensusReading } from '../report/fill-window.js';

export interface DiagnoseOptions {
  readTable: boolean;
  topN: number;
  sampleMs: number;
  sleep: (ms: number) => Promise<void>;
}

export async function diagnose(host: Host, options: DiagnoseOptions): Promise<DoctorReport> {
  const snapshot = await readHostSnapshot(host);
  const first = snapshot.stats.counters ? { atMs: host.clock(), counters: snapshot.stats.counters } : null;
  const sampling = first !== null && options.sampleMs > 0;
  // Every namespace's count at both ends of the window: how fast the one nearest to full grows (report/fill-window.ts says why two readings).
  const censusBefore = snapshot.moduleLoaded && sampling ? await readCensus(host, snapshot) : null;
  let summary: TableSummary | null = null;
  let tableSource: string | null = null;
  let tableUnreadable: Unreadable[] = [];
  if (options.readTable && snapshot.moduleLoaded) {
    const stream = await openTableStream(host);
    tableUnreadable = stream.unreadable;
    if (stream.source !== null) {
      summary = await summarizeBatches(stream.batches, { sysctls: snapshot.sysctls, topN: options.topN });
      tableSource = stream.origin;
    }
  }
  const window = first && sampling ? await sampleAgain(host, first, options) : null;
  const census = snapshot.moduleLoaded ? await readCensus(host, snapshot) : null;
  const censusWindow = censusBefore && census ? { before: censusBefore, after: census } : null;
  return buildDoctorReport({ snapshot, summary, tableSource, tableUnreadable, census: census?.census ?? null, censusWindow, topN: options.topN, window });
}

async function readCensus(host: Host, snapshot: HostSnapshot): Promise<CensusReading> {
  const census = await readNetnsCensus(host, snapshot.netns);
  return { census, atMs: host.clock() };
}

/** The counters again, once the window has passed (reading the table counts towards it). */
async function sampleAgain(host: Host, first: CounterSample, options: DiagnoseOptions): Promise<DropWindow | null> {
  await options.sleep(Math.max(0, options.sampleMs - (host.clock() - first.atMs)));
  const again = await readConntrackStats(host);
  return again.counters ? dropWindow(first, { atMs: host.clock(), counters: again.counters }) : null;
}

export async function runDoctor(config: Config, host: Host, out: NodeJS.WritableStream): Promise<number> {
  const report = await diagnose(host, {
    readTable: !config.noTable,
    topN: config.top,
    sampleMs: config.sampleMs,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  out.write(config.output === 'text' ? renderDoctorText(report) : await renderData(report, config.output));
  return doctorExitCode(report);
}

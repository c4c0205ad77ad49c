// `conntrack-operator doctor`: read-only diagnosis of this host's table.
import type { Config } from '../config.js';
import { readHostSnapshot } from '../kernel/snapshot.js';
import { readNetnsCensus } from '../kernel/netns-census.js';
import { openTableStream } from '../kernel/table-stream.js';
import { buildDoctorReport, doctorExitCode, type DoctorReport } from '../report/doctor-report.js';
import { renderDoctorText } from '../report/doctor-text.js';
import { summarizeBatches, type TableSummary } from '../report/summary.js';
import type { Unreadable } from '../kernel/unreadable.js';
import type { Host } from './host.js';
import { renderData } from './output.js';

export async function diagnose(host: Host, options: { readTable: boolean; topN: number }): Promise<DoctorReport> {
  const snapshot = await readHostSnapshot(host);
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
  const census = snapshot.moduleLoaded ? await readNetnsCensus(host, snapshot.netns) : null;
  return buildDoctorReport({ snapshot, summary, tableSource, tableUnreadable, census, topN: options.topN });
}

export async function runDoctor(config: Config, host: Host, out: NodeJS.WritableStream): Promise<number> {
  const report = await diagnose(host, { readTable: !config.noTable, topN: config.top });
  out.write(config.output === 'text' ? renderDoctorText(report) : await renderData(report, config.output));
  return doctorExitCode(report);
}

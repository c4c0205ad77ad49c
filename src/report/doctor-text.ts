// The doctor's report for a person at a terminal. Pure: report in, text out.
import type { DoctorReport } from './doctor-report.js';
import type { TopAddress } from '../kernel/table-summary.js';
import { netnsSection } from './netns-report.js';
import { FALLBACK_SLAB_OBJECT_SIZE } from '../policy/sizing.js';
import { netnsName } from './netns-name.js';
import { entriesPerSecond } from './fill-window.js';
import { countText } from './count-text.js';

function bytes(v: number | null): string {
  if (v === null) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = v;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const share = (part: number, whole: number): string => (whole > 0 ? ` (${((part / whole) * 100).toFixed(1)}%)` : '');

function counts(map: Record<string, number>, total?: number): string {
  const rows = Object.entries(map).sort((a, b) => b[1] - a[1]);
  return rows.length ? rows.map(([k, v]) => `${k} ${countText(v)}${total ? share(v, total) : ''}`).join(', ') : 'none';
}

function top(rows: TopAddress[], exact: boolean): string {
  if (!rows.length) return 'none';
  return rows.map((r) => `${r.address} ${exact ? '' : '~'}${countText(r.count)}`).join(', ');
}

function section(title: string, lines: string[]): string {
  return [title, ...lines.map((l) => `  ${l}`)].join('\n');
}

/** A section of the report, or null when it has nothing to show for this report. */
type SectionRenderer = (r: DoctorReport) => string | null;

function headline(r: DoctorReport): string {
  const ns =
    r.kernel.hostNetworkNamespace === true
      ? 'host network namespace'
      : r.kernel.hostNetworkNamespace === false
        ? 'NOT the host network namespace'
        : 'network namespace unknown';
  return `conntrack doctor: kernel ${r.kernel.release ?? '?'}, ${ns}${r.kernel.netnsInode ? ` (netns ${r.kernel.netnsInode})` : ''}`;
}

function tableSection({ table: t, memory: m }: DoctorReport): string {
  const perEntry =
    m.slabObjectSize !== null ? `${m.slabObjectSize} B per entry from slabinfo` : `~${FALLBACK_SLAB_OBJECT_SIZE} B per entry assumed, slabinfo unreadable`;
  return section('TABLE AND PRESSURE', [
    `entries        ${countText(t.count)} of ${countText(t.max)} max${t.usagePercent !== null ? ` (${t.usagePercent}% used)` : ''}`,
    `buckets        ${countText(t.buckets)}${t.hashsize !== null && t.hashsize !== t.buckets ? ` (hashsize parameter ${countText(t.hashsize)})` : ''}, average chain length ${t.chainLength ?? '?'}`,
    `memory at max  ${bytes(m.bytesAtMax)} (${perEntry} + 8 B per bucket)${m.percentOfRam !== null ? `, ${m.percentOfRam}% of ${bytes(m.memTotalBytes)} RAM` : ''}`,
  ]);
}

const COUNTER_NAMES = ['drop', 'earlyDrop', 'insertFailed', 'clashResolve', 'invalid', 'searchRestart', 'found', 'insert'];

function countersSection({ counters: c }: DoctorReport): string {
  if (!c) return section('COUNTERS', ['not read (see NOT READ below)']);
  return section(`COUNTERS (from ${c.source}, since boot, all CPUs: history)`, [
    COUNTER_NAMES.filter((k) => typeof c[k] === 'number')
      .map((k) => `${k} ${countText(c[k] as number)}`)
      .join(', '),
  ]);
}

/** How fast the namespace nearest to full grew over the window, and when it would be full at that rate. */
function growthLine(w: NonNullable<DoctorReport['window']>): string[] {
  const ns = w.namespace;
  if (!ns) return [];
  const where = netnsName(ns);
  if (w.growthPerSecond === null) return [`growth                    ${where}: first seen at the end of the window, no rate`];
  const full = w.secondsToFull !== null ? `full in ~${countText(Math.round(w.secondsToFull))} s at this rate` : 'not heading for full at this rate';
  return [`growth                    ${entriesPerSecond(w.growthPerSecond)} in ${where} (${countText(ns.entries)} entries): ${full}`];
}

function windowSection({ window: w }: DoctorReport): string | null {
  if (!w) return null;
  return section(`NOW (counters sampled twice, ${Number(w.seconds.toFixed(1))}s apart)`, [
    `dropped, table full       ${countText(w.tableFull)}`,
    `dropped, insertion race   ${countText(w.insertionRace)} (insert_failed ${countText(w.insertFailed)})`,
    `early drops               ${countText(w.earlyDrop)}`,
    `races resolved            ${w.clashResolved === null ? 'not counted by this kernel' : countText(w.clashResolved)}`,
    ...growthLine(w),
  ]);
}

/** Per TCP state, the entries a lower timeout would already have expired. */
function idleLines(b: NonNullable<DoctorReport['breakdown']>): string[] {
  return Object.entries(b.idleByTcpState)
    .filter(([, v]) => v.entries > 0 && v.idleLongerThan.some((x) => x.count > 0))
    .map(
      ([state, v]) =>
        `  ${state} (timeout ${countText(v.timeoutSeconds)}s, ${countText(v.entries)} entries): ${v.idleLongerThan
          .filter((x) => x.count > 0)
          .map((x) => `idle >${countText(x.seconds)}s ${countText(x.count)}`)
          .join(', ')}`,
    );
}

function breakdownSection(r: DoctorReport): string {
  const b = r.breakdown;
  if (!b) return section('BREAKDOWN', [r.table.source === null ? 'table not read (--no-table, or unreadable: see NOT READ)' : 'empty']);
  const idle = idleLines(b);
  return section(`BREAKDOWN (${countText(b.total)} entries, read from ${r.table.source})`, [
    `L3             ${counts(b.byL3, b.total)}`,
    `protocols      ${counts(b.byProtocol, b.total)}`,
    `tcp states     ${counts(b.tcpStates)}`,
    `flags          assured ${countText(b.flags.assured)}${share(b.flags.assured, b.total)}, unreplied ${countText(b.flags.unreplied)}${share(b.flags.unreplied, b.total)}`,
    `loopback       ${countText(b.loopback.count)}${share(b.loopback.count, b.total)}`,
    `top sources    ${top(b.topSources, b.topAccuracy.sources.exact)}`,
    `top dests      ${top(b.topDestinations, b.topAccuracy.destinations.exact)}`,
    ...(idle.length ? ['entries a lower timeout would already have expired:', ...idle] : []),
  ]);
}

function namespacesSection(r: DoctorReport): string | null {
  if (!r.nodeWide) return null;
  const ns = netnsSection({ nodeWide: r.nodeWide, netns: r.netns });
  return section(ns.title, ns.lines);
}

function timeoutsSection(r: DoctorReport): string {
  return section(
    'TIMEOUTS (seconds; * differs from the kernel default)',
    r.timeouts.map((row) => {
      const changed = row.kernelDefault !== null && row.kernelDefault !== row.seconds;
      const name = row.key.replace(/^nf_conntrack_/, '');
      return `${changed ? '*' : ' '} ${name.padEnd(32)} ${String(row.seconds).padStart(7)}${row.kernelDefault !== null ? `   default ${row.kernelDefault}` : ''}`;
    }),
  );
}

function findingsSection({ findings }: DoctorReport): string {
  return section(
    'FINDINGS',
    findings.length
      ? findings.flatMap((f) => [`${f.severity.toUpperCase().padEnd(8)} ${f.id}: ${f.message}`, ...(f.action ? [`${' '.repeat(9)}-> ${f.action}`] : [])])
      : ['none: the table is healthy.'],
  );
}

function notReadSection({ unreadable }: DoctorReport): string | null {
  if (!unreadable.length) return null;
  return section(
    'NOT READ',
    unreadable.map((u) => `${u.what}: ${u.path} (${u.code})${u.needsRoot ? ' - run as root' : ''}`),
  );
}

/** What the table shows, in the order a reader goes: how full, what drops, what holds the entries, the timeouts. */
const TABLE_SECTIONS: readonly SectionRenderer[] = [tableSection, countersSection, windowSection, breakdownSection, namespacesSection, timeoutsSection];

export function renderDoctorText(r: DoctorReport): string {
  const table = r.kernel.conntrackLoaded ? TABLE_SECTIONS.map((render) => render(r)) : ['nf_conntrack is not loaded: nothing is tracked here.'];
  const sections = [headline(r), ...table, findingsSection(r), notReadSection(r)];
  return `${sections.filter((s) => s !== null).join('\n\n')}\n`;
}

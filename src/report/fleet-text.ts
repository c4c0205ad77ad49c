// The text of `kubectl conntrack status`: kubectl's table layout (upper-case
// headers, columns three spaces apart), one row per node, fullest first.
import type { FleetRow, FullestNamespace, ReadinessCheck } from './fleet-status.js';

const HEADERS = ['NODE', 'USAGE', 'ENTRIES', 'FULLEST', 'DROPS', 'FORECAST', 'POLICY', 'READY', 'PROBED'];

/** 262144 -> "262k", 1048576 -> "1.0M": a column's width stays small at any table size. */
export function compactCount(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1_000_000) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** Seconds as kubectl prints ages: 45s, 4m10s, 2h5m, 3d4h. */
export function shortDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600) ? `${Math.floor((s % 86_400) / 3600)}h` : ''}`;
}

export function namespaceLabel(ns: FullestNamespace | null): string {
  if (!ns) return '-';
  if (ns.host) return 'host';
  if (ns.podNamespace && ns.podName) return `${ns.podNamespace}/${ns.podName}`;
  if (ns.podUid) return `pod ${ns.podUid}`;
  return ns.inode !== undefined ? `netns ${ns.inode}` : 'netns ?';
}

function forecastCell({ forecast: f, fullest }: FleetRow): string {
  // Named when it is not the fullest: the namespace full soonest is the one to look at.
  const which = f.namespace && namespaceLabel(f.namespace) !== namespaceLabel(fullest) ? ` (${namespaceLabel(f.namespace)})` : '';
  if (f.secondsToFull !== null) return `full in ${shortDuration(f.secondsToFull)}${which}`;
  if (f.fillingUp) return 'filling up';
  if (f.growthPerSecond !== null && f.growthPerSecond > 0) return `+${compactCount(Math.round(f.growthPerSecond))}/s`;
  return '-';
}

function readyCell(r: FleetRow['ready']): string {
  return r.status === 'True' || !r.reason ? r.status : `${r.status} (${r.reason})`;
}

function probedCell(row: FleetRow, nowMs: number): string {
  if (!row.lastProbeTime) return '-';
  const age = shortDuration((nowMs - Date.parse(row.lastProbeTime)) / 1000);
  return row.stale ? `${age} ago, stale` : `${age} ago`;
}

function cells(row: FleetRow, nowMs: number): string[] {
  return [
    row.node,
    row.usagePercent === null ? '-' : `${Math.round(row.usagePercent)}%`,
    row.entries === null ? '-' : `${compactCount(row.entries)}/${row.max === null ? '?' : compactCount(row.max)}`,
    namespaceLabel(row.fullest),
    row.dropsNow === null ? '-' : compactCount(row.dropsNow),
    forecastCell(row),
    row.policy === null ? '<none>' : row.mode === 'DryRun' ? `${row.policy} (DryRun)` : row.policy,
    readyCell(row.ready),
    probedCell(row, nowMs),
  ];
}

function layout(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n');
}

export function renderFleetText(rows: FleetRow[], nowMs: number): string {
  if (rows.length === 0) return 'No ConntrackStatus objects: no agent has reported yet.\n';
  return `${layout([HEADERS, ...rows.map((r) => cells(r, nowMs))])}\n`;
}

/** What --check-ready adds under the table: the verdict, one line per node that is not Ready. */
export function renderReadinessText(check: ReadinessCheck): string {
  const lines = [...check.problems];
  if (check.unscheduled.length) lines.push(`not scheduled yet (not judged): ${check.unscheduled.join(', ')}`);
  const judged = check.ready.length + check.problems.length;
  if (check.ok) lines.push(`READY: all ${judged} agent node(s)`);
  else lines.push(judged ? `NOT READY: ${check.problems.length} of ${judged} agent node(s)` : 'NOT READY: no agent pod is scheduled on a node');
  return `${lines.join('\n')}\n`;
}

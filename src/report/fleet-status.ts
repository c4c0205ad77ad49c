// `kubectl conntrack status`: every node at a glance, from the ConntrackStatus
// objects alone, fullest first. Pure. The objects come from the API as the
// agents wrote them, possibly by older or newer agents: every field is read
// only when it is there and of its type, never assumed.
//
// "Fullest" is per network namespace: each one's count is checked against the
// global max, and the host's count does not show the pods' (DOMAIN.md). A node
// is as full as its fullest namespace: status.table.fullest when the agent
// reports it, else the first of namespaces.top when that one is fuller than
// the host's own table, else the host's table.
import { HEARTBEAT_MS } from './status-throttle.js';
import { NodeConditions } from '../api/v1alpha1/status.js';
import { compareText } from '../text-order.js';

/** The namespace whose table is the fullest on the node. */
export interface FullestNamespace {
  /** The node's own network namespace (the host's table). */
  host: boolean;
  inode?: number;
  podNamespace?: string;
  podName?: string;
  podUid?: string;
}

/** One node's row; also the -o json|yaml item. */
export interface FleetRow {
  node: string;
  /** Usage of the fullest table on the node, in % of nf_conntrack_max. */
  usagePercent: number | null;
  /** Entries in that table, and the global max. */
  entries: number | null;
  max: number | null;
  fullest: FullestNamespace | null;
  /** Packets dropped now (the agent's latest window), when reported. */
  dropsNow: number | null;
  forecast: {
    /** When the fullest table reaches max at the current growth; null when it is not growing towards it. */
    secondsToFull: number | null;
    /** Entries per second. */
    growthPerSecond: number | null;
    /** The FillingUp condition is True. */
    fillingUp: boolean;
    /** The namespace the forecast is about (the one full soonest, which may not be the fullest), when reported. */
    namespace: FullestNamespace | null;
  };
  /** The policies in effect (comma-separated names), null when none selects the node. */
  policy: string | null;
  mode: string | null;
  ready: { status: string; reason?: string; message?: string };
  lastProbeTime: string | null;
  /** Not written for more than two heartbeats: the agent may be gone. */
  stale: boolean;
}

/** Written by no agent for this long, a status says nothing about the node any more. */
export const STALE_AFTER_MS = 2 * HEARTBEAT_MS;

type Loose = Record<string, unknown>;

const obj = (v: unknown): Loose | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Loose) : undefined);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function namespaceOf(row: Loose, host: boolean): FullestNamespace {
  const out: FullestNamespace = { host };
  const inode = num(row.inode);
  if (inode !== null) out.inode = inode;
  for (const k of ['podNamespace', 'podName', 'podUid'] as const) {
    const v = str(row[k]);
    if (v) out[k] = v;
  }
  return out;
}

/** The fullest table: the agent's own pick, else the top namespace when it is fuller than the host's, else the host's. */
function fullestOf(table: Loose, namespaces: Loose | undefined): { usagePercent: number | null; entries: number | null; fullest: FullestNamespace | null } {
  const reported = obj(table.fullest);
  if (reported) {
    return { usagePercent: num(reported.usagePercent), entries: num(reported.entries), fullest: namespaceOf(reported, reported.host === true) };
  }
  const hostUsage = num(table.usagePercent);
  const top = Array.isArray(namespaces?.top) ? obj(namespaces.top[0]) : undefined;
  const topUsage = top ? num(top.usagePercent) : null;
  if (top && topUsage !== null && (hostUsage === null || topUsage > hostUsage)) {
    return { usagePercent: topUsage, entries: num(top.entries), fullest: namespaceOf(top, false) };
  }
  if (hostUsage === null) return { usagePercent: null, entries: null, fullest: null };
  return { usagePercent: hostUsage, entries: num(table.count), fullest: { host: true } };
}

/** Drops now: the agent's figure, else what its namespace rows say is rising. */
function dropsNowOf(table: Loose, namespaces: Loose | undefined): number | null {
  const reported = num(table.dropsNow);
  if (reported !== null) return reported;
  const full = Array.isArray(namespaces?.full) ? namespaces.full : [];
  const rising = full.map((r) => num(obj(r)?.dropsRising)).filter((n): n is number => n !== null);
  return rising.length ? rising.reduce((a, b) => a + b, 0) : null;
}

function conditionOf(status: Loose, type: string): Loose | undefined {
  const list = Array.isArray(status.conditions) ? status.conditions : [];
  return list.map(obj).find((c) => c?.type === type);
}

export function fleetRow(object: unknown, nowMs: number): FleetRow {
  const o = obj(object) ?? {};
  const status = obj(o.status) ?? {};
  const table = obj(status.table) ?? {};
  const namespaces = obj(status.namespaces);
  const ready = conditionOf(status, NodeConditions.Ready);
  const policy = obj(status.appliedPolicy);
  const lastProbeTime = str(status.lastProbeTime) ?? null;
  const forecastNamespace = obj(table.forecastNamespace);
  const probedMs = lastProbeTime ? Date.parse(lastProbeTime) : NaN;
  return {
    node: str(obj(o.metadata)?.name) ?? str(status.nodeName) ?? '?',
    ...fullestOf(table, namespaces),
    max: num(table.max),
    dropsNow: dropsNowOf(table, namespaces),
    forecast: {
      secondsToFull: num(table.secondsToFull),
      growthPerSecond: num(table.growthPerSecond),
      fillingUp: conditionOf(status, NodeConditions.FillingUp)?.status === 'True',
      namespace: forecastNamespace ? namespaceOf(forecastNamespace, forecastNamespace.host === true) : null,
    },
    policy: str(policy?.name) ?? null,
    mode: str(policy?.mode) ?? null,
    ready: {
      status: str(ready?.status) ?? 'Unknown',
      ...(str(ready?.reason) ? { reason: str(ready?.reason)! } : {}),
      ...(str(ready?.message) ? { message: str(ready?.message)! } : {}),
    },
    lastProbeTime,
    stale: Number.isNaN(probedMs) || nowMs - probedMs > STALE_AFTER_MS,
  };
}

/** One row per ConntrackStatus, fullest first (unknown usage last), then by node name. */
export function fleetRows(objects: unknown[], nowMs: number): FleetRow[] {
  return objects.map((o) => fleetRow(o, nowMs)).sort((a, b) => (b.usagePercent ?? -1) - (a.usagePercent ?? -1) || compareText(a.node, b.node));
}

/** An agent pod, as --check-ready judges it. */
export interface ScheduledAgent {
  /** namespace/name. */
  pod: string;
  /** spec.nodeName; absent while the pod is not scheduled. */
  nodeName?: string;
  /** status.startTime in ms (the kubelet's clock, on the agent's node). */
  startedAtMs?: number;
}

export interface ReadinessCheck {
  /** Every scheduled agent's node is Ready, and there is at least one (none at all is no proof of anything). */
  ok: boolean;
  /** One line per scheduled agent whose node is not Ready, naming the node and why. */
  problems: string[];
  /** The nodes that were checked and found Ready. */
  ready: string[];
  /** Agent pods not on a node yet (not judged). */
  unscheduled: string[];
}

/**
 * `status --check-ready` (the chart's `helm test`): every scheduled agent pod's node has a
 * ConntrackStatus that is Ready and was written since that pod started (not one left
 * by an agent before it; the agent's first pass always writes, status-throttle.ts).
 */
export function checkAgentsReady(agents: ScheduledAgent[], rows: FleetRow[]): ReadinessCheck {
  const byNode = new Map(rows.map((r) => [r.node, r]));
  const out: ReadinessCheck = { ok: false, problems: [], ready: [], unscheduled: [] };
  for (const agent of [...agents].sort((a, b) => compareText(a.nodeName ?? '', b.nodeName ?? ''))) {
    if (!agent.nodeName) {
      out.unscheduled.push(agent.pod);
      continue;
    }
    const problem = nodeProblem(agent, byNode.get(agent.nodeName));
    if (problem) out.problems.push(`node ${agent.nodeName}: ${problem} (agent pod ${agent.pod})`);
    else out.ready.push(agent.nodeName);
  }
  out.ok = out.problems.length === 0 && out.ready.length > 0;
  return out;
}

function nodeProblem(agent: ScheduledAgent, row: FleetRow | undefined): string | null {
  if (!row) return 'no ConntrackStatus: its agent has not reported';
  const probedMs = row.lastProbeTime ? Date.parse(row.lastProbeTime) : NaN;
  if (agent.startedAtMs !== undefined && !(probedMs >= agent.startedAtMs)) {
    return `its ConntrackStatus was last written at ${row.lastProbeTime ?? 'an unknown time'}, before the agent pod started: the agent has not reported since`;
  }
  if (row.ready.status !== 'True') {
    return `not Ready (${row.ready.status}${row.ready.reason ? `, ${row.ready.reason}` : ''}${row.ready.message ? `: ${row.ready.message}` : ''})`;
  }
  return null;
}

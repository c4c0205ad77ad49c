// When a node's status is worth writing to the API. Every pass builds a new
// status, but at thousands of nodes a write per pass would flood the API
// server: write on a meaningful change, plus a heartbeat so a stale status
// (a dead agent) can be told from a quiet one.
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';
import { netnsRowName } from './netns-status.js';

export const HEARTBEAT_MS = 5 * 60_000;
/** Usage has to move this many points to be news. */
const USAGE_STEP = 5;

export type WriteReason = 'first' | 'conditions' | 'drift' | 'usage' | 'counters' | 'policy' | 'table' | 'findings' | 'namespaces' | 'heartbeat';

const conditionKey = (s: NodeStatusDoc) => s.conditions.map((c) => `${c.type}=${c.status}/${c.reason}/${c.observedGeneration}`).join(',');
const driftKey = (s: NodeStatusDoc) => (s.drift ?? []).map((d) => `${d.key}:${d.desired}:${d.actual}:${d.fighting ?? false}`).join(',');
const policyKey = (s: NodeStatusDoc) => JSON.stringify(s.appliedPolicy ?? null);
// What `kubectl get ctst` shows besides usage: the size of the table and the kernel facts.
const shapeKey = (s: NodeStatusDoc) => JSON.stringify([s.table?.max, s.table?.buckets, s.kernel]);
const findingsKey = (s: NodeStatusDoc) => (s.findings ?? []).map((f) => f.id).join(',');
// Which other network namespaces are full or under pressure: their own TableFull/Pressure.
const namespacesKey = (s: NodeStatusDoc) => JSON.stringify([s.namespaces?.full.map(netnsRowName), s.namespaces?.pressure.map(netnsRowName)]);
const RISING: Array<'drop' | 'earlyDrop' | 'insertFailed'> = ['drop', 'earlyDrop', 'insertFailed'];

/** Why `next` should be written given the last written status, or null to skip it. */
export function writeReason(last: { status: NodeStatusDoc; at: number } | null, next: NodeStatusDoc, now: number): WriteReason | null {
  if (!last) return 'first';
  const prev = last.status;
  if (conditionKey(prev) !== conditionKey(next)) return 'conditions';
  if (driftKey(prev) !== driftKey(next)) return 'drift';
  if (policyKey(prev) !== policyKey(next)) return 'policy';
  if (shapeKey(prev) !== shapeKey(next)) return 'table';
  // The host's usage, and the fullest namespace's (the USAGE column).
  const moved = (u: (s: NodeStatusDoc) => number | undefined) => Math.abs((u(next) ?? 0) - (u(prev) ?? 0)) >= USAGE_STEP;
  if (moved((s) => s.table?.usagePercent) || moved((s) => s.table?.fullest?.usagePercent)) return 'usage';
  if (RISING.some((k) => (next.counters?.[k] ?? 0) > (prev.counters?.[k] ?? 0))) return 'counters';
  if (findingsKey(prev) !== findingsKey(next)) return 'findings';
  if (namespacesKey(prev) !== namespacesKey(next)) return 'namespaces';
  if (now - last.at >= HEARTBEAT_MS) return 'heartbeat';
  return null;
}

// How near the node is to dropping, over every network namespace: the fullest
// one (each namespace's count is checked against the one global max, so the
// fullest drops first), the forecast the agent's watch made between passes,
// and the FillingUp condition that says so before the first drop. Pure.
import type { NetnsCensus } from '../kernel/netns-census.js';
import type { HostSnapshot } from '../kernel/snapshot.js';
import type { EffectivePolicy } from '../policy/effective.js';
import { MAX_SYSCTL } from '../policy/sysctl-keys.js';
import { NodeReasons, type FullestNetnsDoc, type TableStatusDoc } from '../api/v1alpha1/status.js';
import type { Condition } from './conditions.js';
import { usagePercent } from './findings.js';
import type { NetnsRef, WatchView } from './forecast.js';
import { netnsIdentity, netnsName, type NetnsNaming } from './netns-name.js';
import { entriesPerSecond } from './fill-window.js';
import { countText } from './count-text.js';
import type { PodNames } from './netns-status.js';

const round1 = (n: number) => Math.round(n * 10) / 10;

export interface Fullest {
  naming: NetnsNaming;
  entries: number;
  /** entries / max x 100, unrounded (thresholds are judged on it). */
  usage: number;
}

function withPod(n: NetnsNaming, podNames: PodNames | undefined): NetnsNaming {
  const pod = n.podUid ? podNames?.(n.podUid) : undefined;
  return pod ? { ...n, podNamespace: pod.namespace, podName: pod.name } : n;
}

/**
 * The namespace with the most entries, the host's included: from the census
 * where it read counts, else the agent's own namespace from the snapshot. On
 * a tie the host's is named. null when no count or no max could be read.
 */
export function fullestOf(census: NetnsCensus | null, snapshot: HostSnapshot, podNames?: PodNames): Fullest | null {
  const max = snapshot.table.max;
  const rows = (census?.namespaces ?? []).filter((r) => r.entries !== null);
  const top = rows.reduce<(typeof rows)[number] | null>(
    (best, r) => (!best || r.entries! > best.entries! || (r.entries === best.entries && r.host && !best.host) ? r : best),
    null,
  );
  const candidate = top
    ? { naming: withPod({ host: top.host, inode: top.inode, pid: top.pid, podUid: top.podUid }, podNames), entries: top.entries! }
    : snapshot.table.count !== null
      ? { naming: { host: snapshot.netns.host !== false, inode: snapshot.netns.inode }, entries: snapshot.table.count }
      : null;
  const usage = candidate ? usagePercent(candidate.entries, max) : null;
  return candidate && usage !== null ? { ...candidate, usage } : null;
}

export function fullestDoc(f: Fullest): FullestNetnsDoc {
  return { ...netnsIdentity(f.naming), entries: f.entries, usagePercent: round1(f.usage), usage: `${Math.round(f.usage)}%` };
}

function refNaming(ref: NetnsRef, podNames: PodNames | undefined): NetnsNaming {
  return withPod({ host: ref.host, inode: ref.inode, pid: ref.pid, podUid: ref.podUid }, podNames);
}

/** status.table's forecast fields, from the watch; none before it has a forecast. */
export function forecastFields(w: WatchView | undefined, podNames?: PodNames): Pick<TableStatusDoc, 'growthPerSecond' | 'secondsToFull' | 'forecastNamespace'> {
  const focus = w?.focus;
  const f = focus?.forecast;
  if (!focus || !f) return {};
  return {
    growthPerSecond: round1(f.ratePerSecond),
    ...(f.secondsToFull !== null ? { secondsToFull: Math.round(f.secondsToFull) } : {}),
    forecastNamespace: netnsIdentity(refNaming(focus.ns, podNames)),
  };
}

/**
 * What happens next when the table fills: whether autoSize grows max ahead of
 * it (only where it may write: an enforced table field, not DryRun), is
 * stuck at its ceiling, or is not there at all.
 */
export function growthOutlook(effective: EffectivePolicy | undefined, writes: boolean, max: number | null): string {
  const otherRemedies = 'track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts)';
  if (!effective || effective.selected.length === 0) return `no policy selects this node, so nothing grows max (${countText(max ?? 0)}): ${otherRemedies}`;
  const a = effective.autoSize;
  if (!a) return `no autoSize: max stays at ${countText(max ?? 0)}; set table.autoSize or a larger table.max, or ${otherRemedies}`;
  if (!writes || effective.enforced.sysctls[MAX_SYSCTL] === undefined) return `autoSize is in DryRun here and grows nothing: ${otherRemedies}`;
  if (a.max >= a.ceiling) return `autoSize is at its ceiling (${countText(a.ceiling)} entries: the memory budget or maxMax): ${otherRemedies}`;
  return `autoSize is growing max (now ${countText(max ?? a.max)}, up to its ceiling of ${countText(a.ceiling)} entries)`;
}

/**
 * FillingUp from the watch: True while its hysteresis says the forecast
 * namespace fills within the horizon, False when it does not, Unknown before
 * the watch has a forecast. The message says where, how fast, and what next.
 */
export function fillingUpState(
  w: WatchView | undefined,
  podNames: PodNames | undefined,
  outlook: string,
): { status: Condition['status']; reason: string; message: string } {
  const r = NodeReasons.FillingUp;
  const focus = w?.focus;
  const f = focus?.forecast;
  if (!w || !focus || !f) {
    return {
      status: 'Unknown',
      reason: r.NoForecast,
      message: 'No forecast yet: the watch samples the fullest network namespaces about once a second and forecasts after a few seconds of them.',
    };
  }
  const where = netnsName(refNaming(focus.ns, podNames));
  const rate = entriesPerSecond(f.ratePerSecond);
  if (w.filling) {
    const when =
      f.secondsToFull !== null
        ? `Full in ~${countText(f.secondsToFull)} s at ${rate} in ${where}`
        : `Filling up at ${rate} in ${where} (forecast full within ${countText(w.horizonSeconds)} s a moment ago; this clears once the forecast stays beyond ${countText(2 * w.horizonSeconds)} s)`;
    return { status: 'True', reason: r.FillingUp, message: `${when}, before any drop: ${outlook}.` };
  }
  const message =
    f.secondsToFull !== null
      ? `Not filling up within the ${countText(w.horizonSeconds)} s horizon: ${where} would be full in ~${countText(f.secondsToFull)} s at ${rate}.`
      : `Not filling up: ${where} holds ${countText(focus.entries)} entries and changes by ${rate}, no trend that reaches max.`;
  return { status: 'False', reason: r.NotFilling, message };
}

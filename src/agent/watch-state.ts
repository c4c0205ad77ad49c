// What the table watch (table-watch.ts) keeps per network namespace between
// samples, and the small rules that move it on: a sample in, the history
// trimmed, the forecast and FillingUp stepped, rising drops noticed; which
// namespaces are worth reading every second; the view the pass and the
// reports get. Pure: no I/O.
import {
  fillingUpNext,
  forecastFill,
  FORECAST_HISTORY_MS,
  mayBreakOut,
  NOT_FILLING,
  type CountSample,
  type FillingUp,
  type FillingUpOptions,
  type Forecast,
  type NetnsRef,
  type WatchView,
} from '../report/forecast.js';
import type { NetnsSample } from '../kernel/netns-sample.js';

export interface WatchedNetns {
  ref: NetnsRef;
  /** The process whose stat file is read for it ('self' for ours: it never exits). */
  via: string;
  /** Its entry count, oldest first, at most FORECAST_HISTORY_MS long. */
  history: CountSample[];
  forecast: Forecast | null;
  filling: FillingUp;
  /** The counters at the last sample, to see them rise. */
  counters: { drop: number; insertFailed: number; earlyDrop: number } | null;
  /** Appeared after the last census: read every tick until the next census names it. */
  fresh: boolean;
}

export function watched(ref: NetnsRef, via: string, fresh: boolean): WatchedNetns {
  return { ref, via, history: [], forecast: null, filling: NOT_FILLING, counters: null, fresh };
}

/** A drop counter above the last sample's: a full table or an insertion race now. */
export function dropRose(last: number | undefined, now: number | null | undefined): boolean {
  return last !== undefined && now !== null && now !== undefined && now > last;
}

export interface Observed {
  ns: WatchedNetns;
  /** drop or early_drop rose: a full table (or, for drop, an insertion race) now. */
  dropsRose: boolean;
  /** FillingUp turned on with this sample. */
  turnedFilling: boolean;
}

/**
 * One sample of a namespace: history, forecast against `max` and FillingUp
 * (judged by `fill`: the horizon, and how many samples turn it on) move on. The forecast is fitted only when
 * the count may have broken out (mayBreakOut): otherwise no window of it can
 * be trusted, FillingUp judges it "not soon" either way, and most namespaces
 * are flat most of the time (the fits are most of a sample's cost).
 */
export function observe(ns: WatchedNetns, atMs: number, sample: NetnsSample, max: number | null, fill: FillingUpOptions): Observed {
  const kept = ns.history.filter((s) => s.atMs >= atMs - FORECAST_HISTORY_MS);
  const history = sample.entries === null ? kept : [...kept, { atMs, entries: sample.entries }];
  const forecast = max !== null && max > 0 && mayBreakOut(history, max) ? forecastFill(history, max) : null;
  const filling = fillingUpNext(ns.filling, forecast, fill);
  const counters = sample.drop === null ? ns.counters : { drop: sample.drop, insertFailed: sample.insertFailed ?? 0, earlyDrop: sample.earlyDrop ?? 0 };
  return {
    ns: { ...ns, history, forecast, filling, counters },
    // Early drops too: the table is full, entries are evicted to make room (DOMAIN: drop and early_drop rising).
    dropsRose: dropRose(ns.counters?.drop, sample.drop) || dropRose(ns.counters?.earlyDrop, sample.earlyDrop),
    turnedFilling: filling.filling && !ns.filling.filling,
  };
}

/** Its latest entry count; null before its first sample. */
export const latest = (ns: WatchedNetns): number | null => ns.history.at(-1)?.entries ?? null;

/**
 * Entries `horizonSeconds` ahead at the pace of its last two samples: a crude
 * projection, but it needs only two samples (the sweep's, 5 s apart) to bring
 * a namespace that starts to climb into the per-second set, where the forecast
 * proper gets the samples it needs.
 */
export function projected(ns: WatchedNetns, horizonSeconds: number): number {
  const last = ns.history.at(-1);
  const before = ns.history.at(-2);
  if (!last) return 0;
  if (!before || last.atMs <= before.atMs) return last.entries;
  const rate = ((last.entries - before.entries) * 1000) / (last.atMs - before.atMs);
  return last.entries + Math.max(0, rate) * horizonSeconds;
}

export interface HotOptions {
  max: number | null;
  warningPercent: number;
  horizonSeconds: number;
  /** How many namespaces, nearest to full first, are read every tick besides the ones always read. */
  count: number;
}

/**
 * The namespaces read every tick: ours and the host's (their drops are the
 * node's own), those new since the census, those filling up, the `count`
 * projected to hold the most entries, and every one projected above the
 * warning threshold. The rest are read by the sweep.
 */
export function hotKeys(all: readonly WatchedNetns[], o: HotOptions): Set<number> {
  const ranked = all.map((ns) => ({ ns, ahead: projected(ns, o.horizonSeconds) })).sort((a, b) => b.ahead - a.ahead || a.ns.ref.key - b.ns.ref.key);
  const warning = o.max !== null ? (o.max * o.warningPercent) / 100 : Infinity;
  return new Set(
    ranked
      .filter(({ ns, ahead }, i) => i < o.count || ahead >= warning || ns.via === 'self' || ns.ref.host || ns.fresh || ns.filling.filling)
      .map(({ ns }) => ns.ref.key),
  );
}

const soonest = (a: WatchedNetns, b: WatchedNetns): number =>
  (a.forecast?.secondsToFull ?? Infinity) - (b.forecast?.secondsToFull ?? Infinity) || (latest(b) ?? -1) - (latest(a) ?? -1);

/**
 * The view a pass and the reports get. The focus: of the namespaces filling
 * up, the one full soonest; else the one a trusted forecast says is full
 * soonest; else the fullest. `filling` is its FillingUp, so it is on while any
 * namespace's is. `max`: what the focus's rate is fitted against when no
 * sample fitted it.
 */
export function watchView(all: readonly WatchedNetns[], horizonSeconds: number, atMs: number, max: number | null): WatchView {
  const seen = all.filter((ns) => ns.history.length > 0);
  const filling = seen.filter((ns) => ns.filling.filling).sort(soonest);
  const forecastFull = seen.filter((ns) => ns.forecast?.secondsToFull !== null && ns.forecast?.secondsToFull !== undefined).sort(soonest);
  const fullest = [...seen].sort((a, b) => latest(b)! - latest(a)! || a.ref.key - b.ref.key);
  const focus = filling[0] ?? forecastFull[0] ?? fullest[0];
  // A flat table was not fitted sample by sample: its rate (untrusted, for the reports) is fitted here, once.
  const forecast = focus?.forecast ?? (focus && max !== null && max > 0 ? forecastFill(focus.history, max) : null);
  return {
    focus: focus ? { ns: focus.ref, entries: latest(focus)!, forecast } : null,
    filling: focus?.filling.filling ?? false,
    horizonSeconds,
    atMs,
  };
}

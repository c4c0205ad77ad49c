// When will a namespace's table be full? From a short history of its entry
// count (the agent's watch samples about once a second), a growth rate that
// noise cannot fool and the time until the count reaches nf_conntrack_max.
// Pure: the watch, the pass, the status, the metrics and doctor all use it.
//
// The rate is the Theil-Sen estimator: the median of the slopes between every
// pair of samples. One outlier (a census that read a namespace mid-burst, a
// flush) moves it little, and a sawtooth (entries expiring in waves) gives a
// rate near zero over whole periods, where a least-squares fit or the last
// two samples would swing with each tooth. The level it projects from is the
// median of each sample's value carried to the newest time along that rate.
//
// Whether the table is "filling up" has hysteresis on top (fillingUpNext):
// it turns on when the forecast says full within the horizon on consecutive
// samples, and off only once the forecast has said "not soon" for longer, so
// the FillingUp condition, its event and its metric do not flap.

/** One reading of a namespace's entry count. */
export interface CountSample {
  /** ms since the epoch. */
  atMs: number;
  entries: number;
}

export interface Forecast {
  /** Entries per second over the window (negative when the table empties). */
  ratePerSecond: number;
  /** The count now, as the fitted line puts it at the newest sample. */
  level: number;
  /** Seconds until the level reaches max at this rate; null when it is not growing meaningfully. */
  secondsToFull: number | null;
  /** Seconds between the oldest and newest sample used. */
  windowSeconds: number;
  samples: number;
}

export interface ForecastOptions {
  /** The windows (ms before the newest sample) a rate is fitted over; default FORECAST_WINDOWS_MS. */
  windowsMs?: readonly number[];
  /** A window's forecast is trusted this many window lengths ahead, no further (default 3). */
  trust?: number;
  /** A window needs at least this many samples (default 4). */
  minSamples?: number;
  /** How far above the peak before the window the level must be, as a share of max (default 0.01). */
  breakoutShareOfMax?: number;
  /**
   * Growth slower than this share of max per second is "not growing": a
   * table that would take days to fill is not a forecast anyone can act on.
   */
  minRateShareOfMax?: number;
}

/**
 * Short windows see a surge start within seconds; long ones see slow growth.
 * Each is trusted only a few of its own lengths ahead (a 5 s trend says
 * nothing about the next hour), and only when the count has broken out above
 * everything seen before the window: the rising tooth of a sawtooth (entries
 * expiring in waves) climbs back to where it has been, a surge climbs past it.
 */
const FORECAST_WINDOWS_MS: readonly number[] = [5_000, 10_000, 20_000, 40_000];
/** The history the watch keeps: the longest window and as much before it, to judge a breakout. */
export const FORECAST_HISTORY_MS = 80_000;
const TRUST = 3;
const MIN_SAMPLES = 4;
/** A breakout clears the earlier peak by this share of max (noise around a plateau is no breakout). */
const BREAKOUT_SHARE_OF_MAX = 0.01;
/** 1/100,000 of max per second: 8 entries/s at max 786,432, about 28 hours from empty to full. */
export const MIN_RATE_SHARE_OF_MAX = 1e-5;

/** Sorts `values` in place (a typed array sorts numerically, natively: the watch fits every second, 780 slopes for 40 samples). */
function median(values: Float64Array): number {
  values.sort();
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/** Theil-Sen over `samples` (oldest first): the rate and the level at the newest sample; null without two distinct times. */
function fit(samples: readonly CountSample[]): { ratePerSecond: number; level: number } | null {
  const slopes = new Float64Array((samples.length * (samples.length - 1)) / 2);
  let n = 0;
  for (let i = 0; i < samples.length; i++) {
    for (let j = i + 1; j < samples.length; j++) {
      const dt = samples[j]!.atMs - samples[i]!.atMs;
      if (dt > 0) slopes[n++] = ((samples[j]!.entries - samples[i]!.entries) * 1000) / dt;
    }
  }
  if (n === 0) return null;
  const ratePerSecond = median(slopes.subarray(0, n));
  const newest = samples[samples.length - 1]!.atMs;
  return { ratePerSecond, level: Math.max(0, median(Float64Array.from(samples, (s) => s.entries + (ratePerSecond * (newest - s.atMs)) / 1000))) };
}

/**
 * The forecast from `history` (oldest first, as the watch keeps it) against
 * `max`: of the windows whose forecast is trusted, the one that says full
 * soonest; when none is, the longest window's rate with no time to full.
 * A window is trusted when the time to full is within `trust` of its length
 * and a reading in the window broke out above the peak of the samples before
 * it, which must span at least the window's length. null with too few samples.
 */
export function forecastFill(history: readonly CountSample[], max: number, o: ForecastOptions = {}): Forecast | null {
  if (history.length === 0) return null;
  const oldest = history[0]!.atMs;
  const newest = history[history.length - 1]!.atMs;
  const minRate = max * (o.minRateShareOfMax ?? MIN_RATE_SHARE_OF_MAX);
  const margin = max * (o.breakoutShareOfMax ?? BREAKOUT_SHARE_OF_MAX);
  let longest: Forecast | null = null;
  let soonest: Forecast | null = null;
  for (const windowMs of o.windowsMs ?? FORECAST_WINDOWS_MS) {
    const start = newest - windowMs;
    const recent = history.filter((s) => s.atMs >= start);
    if (recent.length < (o.minSamples ?? MIN_SAMPLES)) continue;
    const line = fit(recent);
    if (!line) continue;
    const windowSeconds = (newest - recent[0]!.atMs) / 1000;
    const growing = max > 0 && line.ratePerSecond > minRate;
    const toFull = growing ? Math.max(0, (max - line.level) / line.ratePerSecond) : null;
    const before = history.filter((s) => s.atMs < start);
    // Judged on readings, not on the fitted level: a line through a tooth and the drop after it ends above the drop.
    const peakBefore = Math.max(...before.map((s) => s.entries));
    const brokeOut = start - oldest >= windowMs && recent.some((s) => s.entries > peakBefore + margin);
    const trusted = toFull !== null && brokeOut && toFull <= (o.trust ?? TRUST) * windowSeconds;
    const f: Forecast = { ...line, secondsToFull: trusted ? toFull : null, windowSeconds, samples: recent.length };
    if (!longest || windowSeconds > longest.windowSeconds) longest = { ...f, secondsToFull: null };
    if (trusted && (!soonest || toFull < soonest.secondsToFull!)) soonest = f;
  }
  return soonest ?? longest;
}

/**
 * Whether a reading within the longest window rose above the peak of the
 * readings before it by the breakout margin. Without that no window's
 * forecast is trusted (every window's readings are the longest's, and the
 * readings before it are a subset of those before a shorter one), so a
 * caller with many quiet namespaces may skip the fits. True, to be safe, while
 * the history is shorter than the longest window.
 */
export function mayBreakOut(history: readonly CountSample[], max: number, o: Pick<ForecastOptions, 'windowsMs' | 'breakoutShareOfMax'> = {}): boolean {
  const newest = history.at(-1);
  if (!newest) return false;
  const start = newest.atMs - Math.max(...(o.windowsMs ?? FORECAST_WINDOWS_MS));
  let before = -Infinity;
  let within = -Infinity;
  for (const s of history) {
    if (s.atMs < start) before = Math.max(before, s.entries);
    else within = Math.max(within, s.entries);
  }
  return within > before + max * (o.breakoutShareOfMax ?? BREAKOUT_SHARE_OF_MAX);
}

/** The FillingUp state carried from sample to sample. */
export interface FillingUp {
  filling: boolean;
  /** Consecutive samples that argued for the other state. */
  streak: number;
}

export const NOT_FILLING: FillingUp = { filling: false, streak: 0 };

export interface FillingUpOptions {
  /** "Full within this many seconds" turns FillingUp on. */
  horizonSeconds: number;
  /** Consecutive samples within the horizon before it turns on (default 2). */
  onAfter?: number;
  /** Consecutive samples beyond twice the horizon (or not growing) before it turns off (default 10). */
  offAfter?: number;
}

/**
 * One step of the hysteresis: on after `onAfter` samples that say full within
 * the horizon; off after `offAfter` samples that say not within twice the
 * horizon. In between (full in 1 to 2 horizons) the state holds.
 */
export function fillingUpNext(prev: FillingUp, f: Forecast | null, o: FillingUpOptions): FillingUp {
  const soon = f?.secondsToFull !== null && f?.secondsToFull !== undefined && f.secondsToFull <= o.horizonSeconds;
  const notSoon = !f || f.secondsToFull === null || f.secondsToFull > 2 * o.horizonSeconds;
  const against = prev.filling ? notSoon : soon;
  if (!against) return { filling: prev.filling, streak: 0 };
  const streak = prev.streak + 1;
  const needed = prev.filling ? (o.offAfter ?? 10) : (o.onAfter ?? 2);
  return streak >= needed ? { filling: !prev.filling, streak: 0 } : { filling: prev.filling, streak };
}

/** Which network namespace a figure is about, as the census and the watch name it. */
export interface NetnsRef {
  /** The census key: the inode of /proc/<pid>/net/stat, one per namespace, readable without ptrace rights. */
  key: number;
  /** The nsfs inode (readlink /proc/<pid>/ns/net: what kmsg's "table full in netns N" and lsns name); null where not readable. */
  inode: number | null;
  /** A process in it (nsenter -t PID -n). */
  pid: number;
  host: boolean;
  /** The pod whose containers are in it, from their kubelet cgroup; null outside pods. */
  podUid: string | null;
}

/** What the watch hands a pass and the reports: the namespace to worry about, and its forecast. */
export interface WatchView {
  /** The namespace forecast to be full soonest; when none is filling, the fullest one. null before the first sample. */
  focus: { ns: NetnsRef; entries: number; forecast: Forecast | null } | null;
  /** FillingUp after the hysteresis (fillingUpNext) for the focus namespace. */
  filling: boolean;
  /** The horizon FillingUp was judged against, seconds. */
  horizonSeconds: number;
  /** When the watch last sampled, ms since the epoch. */
  atMs: number;
}

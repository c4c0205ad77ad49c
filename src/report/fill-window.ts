// doctor's growth figures: how fast the namespace nearest to full grew over
// the sampling window, and when it would be full at that rate. Pure.
//
// Two readings (the census at the start and at the end of --sample), not the
// watch's forecastFill: that one trusts a trend only after a breakout above
// a history at least as long as its window (10 s and more before a 5 s
// window) and with four samples in it, which a 2 s one-shot diagnosis does not
// have; sampling one namespace more often within the window would still give
// nothing forecastFill trusts, and reading every namespace twice is what
// finds the one filling fastest rather than the one fullest at the start. The
// figures are labelled as the window's rate, not as a forecast.
import type { NetnsCensus } from '../kernel/netns-census.js';
import { countText } from './count-text.js';
import { MIN_RATE_SHARE_OF_MAX } from './forecast.js';

/** A census and when it was taken (ms since the epoch). */
export interface CensusReading {
  census: NetnsCensus;
  atMs: number;
}

export interface FillWindow {
  /** Entries per second of `namespace` between the two readings; null when it was read only once. */
  growthPerSecond: number | null;
  /** Seconds until it reaches max at that rate; null when not growing (or slower than max/100,000 per second). */
  secondsToFull: number | null;
  /** The namespace full soonest at its rate over the window, else the fullest at the end. */
  namespace: { inode: number | null; pid: number; host: boolean; podUid: string | null; entries: number } | null;
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** "+1,200 entries/s", "-45 entries/s": a growth rate as the status, events and doctor write it. */
export const entriesPerSecond = (rate: number) => `${rate >= 0 ? '+' : '-'}${countText(Math.abs(rate))} entries/s`;

export function fillWindow(before: CensusReading, after: CensusReading, max: number | null): FillWindow {
  const seconds = (after.atMs - before.atMs) / 1000;
  const earlier = new Map(before.census.namespaces.filter((r) => r.entries !== null).map((r) => [r.key, r.entries!]));
  const minRate = (max ?? 0) * MIN_RATE_SHARE_OF_MAX;
  const rows = after.census.namespaces
    .filter((r) => r.entries !== null)
    .map((r) => {
      const then = r.key === null ? undefined : earlier.get(r.key);
      const rate = then === undefined || seconds <= 0 ? null : (r.entries! - then) / seconds;
      const toFull = rate !== null && max !== null && max > 0 && rate > minRate ? Math.max(0, (max - r.entries!) / rate) : null;
      return { r, rate, toFull };
    });
  const soonest = rows.filter((x) => x.toFull !== null).sort((a, b) => a.toFull! - b.toFull!)[0];
  const fullest = [...rows].sort((a, b) => b.r.entries! - a.r.entries! || Number(b.r.host) - Number(a.r.host))[0];
  const pick = soonest ?? fullest;
  if (!pick) return { growthPerSecond: null, secondsToFull: null, namespace: null };
  const { r } = pick;
  return {
    growthPerSecond: pick.rate === null ? null : round1(pick.rate),
    secondsToFull: pick.toFull === null ? null : round1(pick.toFull),
    namespace: { inode: r.inode, pid: r.pid, host: r.host, podUid: r.podUid, entries: r.entries! },
  };
}

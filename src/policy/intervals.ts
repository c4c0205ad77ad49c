// Pure: sets of numbers as sorted, disjoint intervals. One merge serves every
// set the project keeps this way: port ranges (NOTRACK rules, nft's interval
// sets), address ranges (CIDR cover, nft's canonical form) and the NAT check's
// packet spaces.
import type { PortRange } from './types.js';

/** A half-open interval [lo, hi) of numbers or bigints. */
export type Interval<T extends number | bigint> = readonly [T, T];

/**
 * Sorted by start, empty ones dropped, overlapping ones merged; with
 * `touching`, also those that meet end to start ([1, 3) and [3, 5) become [1, 5)).
 */
export function mergeIntervals<T extends number | bigint>(list: ReadonlyArray<Interval<T>>, touching: boolean): Array<[T, T]> {
  const sorted = list.filter(([lo, hi]) => lo < hi).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: Array<[T, T]> = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    if (last && (lo < last[1] || (touching && lo === last[1]))) {
      if (hi > last[1]) last[1] = hi;
    } else out.push([lo, hi]);
  }
  return out;
}

/** Port ranges (inclusive ends) sorted and merged as mergeIntervals does; `touching` merges 80-89 with 90. */
export function mergePortRanges(ports: readonly PortRange[], touching: boolean): PortRange[] {
  return mergeIntervals(
    ports.map((p) => [p.from, p.to + 1] as const),
    touching,
  ).map(([from, end]) => ({ from, to: end - 1 }));
}

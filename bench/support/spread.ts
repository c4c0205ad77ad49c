// min/median/max of repeated measurements: how every bench prints a figure.

export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0]!, median: s[Math.floor((s.length - 1) / 2)]!, max: s[s.length - 1]! };
}

/** One figure: the value when measured once, "min / median / max" when repeated; "-" when never measured. */
export function spreadText(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '-';
  const { min, median, max } = spread(xs);
  const f = (x: number) => x.toFixed(digits);
  return xs.length === 1 ? f(median) : `${f(min)} / ${f(median)} / ${f(max)}`;
}

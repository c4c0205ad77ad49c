// The duration grammar of flags (--interval, --sample) and of the chart
// values rendered into them: whole seconds ("90") or hours, minutes and
// seconds in that order ("1h30m", "90s", "1h0m0s"). Policies take integer
// ...Seconds fields only.
//
// The grammar is one regular expression, written in the subset that
// ECMAScript and RE2 (Go, so Helm's values.schema.json) read alike: the chart's
// schema carries durationPattern() verbatim and test/packaging/flag-grammar
// holds the two equal. Its bounds are digit counts, so a regular expression
// can state them: at most 2 digits of hours, 4 of minutes and 6 of seconds
// (leading zeros aside). The largest duration, 99h9999m999999s, is 1,956,339 s
// (22.6 days): below the 2^31-1 ms (24.8 days) a Node.js timer can wait, past
// which setInterval fires every millisecond instead.

/** Significant digits allowed per unit. */
const UNITS: ReadonlyArray<readonly [unit: string, digits: number]> = [
  ['h', 2],
  ['m', 4],
  ['s', 6],
];
/** Whole seconds: as many digits as the seconds unit. */
const WHOLE_SECONDS_DIGITS = 6;
/** The largest whole-seconds value (the chart's integer form says so as its maximum). */
export const MAX_WHOLE_SECONDS = 10 ** WHOLE_SECONDS_DIGITS - 1;

/** A number of at most `digits` significant digits (leading zeros allowed); positive, or zero too. */
function count(digits: number, positive: boolean): string {
  return positive ? `0*[1-9][0-9]{0,${digits - 1}}` : `0*[0-9]{1,${digits}}`;
}

/**
 * The grammar as a regular expression source (anchored). minSeconds 1: some unit is
 * not zero; 0: zero is a duration too ("0", "0s").
 */
export function durationPattern(minSeconds: 0 | 1): string {
  const positive = minSeconds === 1;
  // One alternative per unit: with minSeconds 1 that unit is the positive one
  // and every other is optional; with 0 it is the first unit written.
  const alternatives = UNITS.map((_, i) =>
    UNITS.map(([unit, digits], j) => {
      const part = `${count(digits, positive && i === j)}${unit}`;
      if (i === j) return part;
      return j < i && !positive ? '' : `(?:${part})?`;
    }).join(''),
  );
  return `^(?:${count(WHOLE_SECONDS_DIGITS, positive)}|${alternatives.join('|')})$`;
}

const GRAMMAR = { 0: new RegExp(durationPattern(0)), 1: new RegExp(durationPattern(1)) };
/** The shape without bounds, to say which bound a refused value broke. */
const SHAPE = /^(?:([0-9]+)|(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?)$/;

export type DurationResult = { ok: true; seconds: number } | { ok: false; reason: string };

/** Seconds for a duration text, or the reason it is not one (without the flag's name). */
export function parseDuration(text: string, minSeconds: 0 | 1 = 1): DurationResult {
  const shape = SHAPE.exec(text);
  if (!shape || text === '') return { ok: false, reason: 'expected whole seconds or a duration such as "30s", "10m" or "1h30m"' };
  const [, whole, h, m, s] = shape;
  const seconds = whole !== undefined ? Number(whole) : Number(h ?? 0) * 3600 + Number(m ?? 0) * 60 + Number(s ?? 0);
  if (seconds < minSeconds) return { ok: false, reason: `must be at least ${minSeconds} second` };
  if (!GRAMMAR[minSeconds].test(text)) {
    return { ok: false, reason: `too long: at most ${MAX_WHOLE_SECONDS} whole seconds, or 2 digits of hours, 4 of minutes and 6 of seconds` };
  }
  return { ok: true, seconds };
}

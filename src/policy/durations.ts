// Durations as flags take them (--interval): integer seconds, or "1h30m" /
// "10m" / "45s" strings. Policies take integer ...Seconds fields only.

/** The largest timeout the kernel's sysctl accepts (an int of seconds). */
export const MAX_DURATION_SECONDS = 2147483647;

const DURATION_STRING = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

export type DurationResult = { ok: true; seconds: number } | { ok: false; reason: string };

/** Seconds for a Duration value, or the reason it is not one (without the field name). */
export function parseDuration(value: unknown, minSeconds = 1): DurationResult {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' ? stringSeconds(value) : undefined;
  if (seconds === undefined || !Number.isInteger(seconds)) {
    return { ok: false, reason: `expected whole seconds or a duration string such as "30s", "10m" or "1h30m", got ${JSON.stringify(value)}` };
  }
  if (seconds < minSeconds) return { ok: false, reason: `must be at least ${minSeconds} second${minSeconds === 1 ? '' : 's'}, got ${JSON.stringify(value)}` };
  if (seconds > MAX_DURATION_SECONDS) {
    return { ok: false, reason: `must be at most ${MAX_DURATION_SECONDS} seconds, got ${JSON.stringify(value)}` };
  }
  return { ok: true, seconds };
}

function stringSeconds(text: string): number | undefined {
  const m = DURATION_STRING.exec(text);
  if (!m || text === '') return undefined;
  const [, h, min, s] = m;
  return Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
}

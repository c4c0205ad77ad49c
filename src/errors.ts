// What every caller needs to know of anything thrown: its one-line text (logs,
// statuses, CLI messages), for a system call's error its errno code, and for a
// Kubernetes API error its HTTP status.

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  return JSON.stringify(err) ?? String(err);
}

/** The errno code of a failed system call (ENOENT, EACCES, ...), or undefined. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** HTTP status of a failed API call (@kubernetes/client-node's ApiException has `code`), or undefined. */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  for (const v of [e.code, e.statusCode]) if (typeof v === 'number') return v;
  return undefined;
}

/** The Status object kube-apiserver sends with a refusal (the parts we read). */
export interface ApiStatus {
  message?: string;
  reason?: string;
  details?: { causes?: Array<{ reason?: string; message?: string }> };
}

/** The Status body of a failed API request (@kubernetes/client-node's ApiException keeps it as text). */
export function apiStatus(err: unknown): ApiStatus | undefined {
  const body = typeof err === 'object' && err !== null ? (err as { body?: unknown }).body : undefined;
  if (typeof body === 'object' && body !== null) return body as ApiStatus;
  if (typeof body !== 'string') return undefined;
  try {
    return JSON.parse(body) as ApiStatus;
  } catch {
    return undefined;
  }
}

/**
 * One line for a user: an API refusal as its HTTP status and the server's own message
 * (client-node's text carries the whole body and the headers), anything else as errorText.
 */
export function apiErrorText(err: unknown): string {
  const code = statusCode(err);
  if (code === undefined) return errorText(err);
  const status = apiStatus(err);
  return `HTTP ${code}${status?.reason ? ` ${status.reason}` : ''}${status?.message ? `: ${status.message}` : ''}`;
}

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

// How the kernel readers name what they could not read, so a report can say
// "run as root for this" instead of failing or printing a stack trace.
import { errnoCode } from '../errors.js';

export interface Unreadable {
  /** What was wanted, e.g. "nf_conntrack slab object size". */
  what: string;
  /** The file or command that failed. */
  path: string;
  /** The errno code (ENOENT, EACCES, EPERM, ...), "exit <n>" for a command, or "implausible value <v>" for a figure no kernel prints. */
  code: string;
  /** Whether running as root (with CAP_NET_ADMIN) would likely have helped. */
  needsRoot: boolean;
}

const PERMISSION_CODES = new Set(['EACCES', 'EPERM']);

/**
 * Build an Unreadable from an error. A permission error needs root unless we
 * already are root (isRoot true): then root does not help (e.g. EACCES on
 * /proc/1/ns/net inside a sandbox).
 */
export function unreadable(what: string, path: string, err: unknown, isRoot: boolean): Unreadable {
  const code = errnoCode(err) ?? 'EIO';
  return { what, path, code, needsRoot: PERMISSION_CODES.has(code) && !isRoot };
}

const READ_FAILURE: Record<string, string> = {
  EACCES: 'present but not readable here: permission denied',
  EPERM: 'present but not readable here: operation not permitted',
};

/** Why a file that exists could not be read, e.g. "present but not readable here: permission denied (EACCES)". */
export function unreadableReason(u: Unreadable): string {
  return `${READ_FAILURE[u.code] ?? 'present but could not be read'} (${u.code})`;
}

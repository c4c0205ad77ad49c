// What the kernel looks like now, as far as the planner needs it, and what our
// NOTRACK rules should be and are. Read here in kernel/ (observe.ts, the NOTRACK
// backends), consumed by the pure planner (types only): one definition for both.
import type { NotrackRule } from '../policy/types.js';

export interface ObservedKey {
  value: number;
  /** False when a write would fail; reason says why (read-only in a non-host namespace, read-only /sys, ...). */
  writable: boolean;
  reason?: string;
}

export interface ObservedState {
  /** Every conntrack sysctl present on this kernel (discovered, not assumed). Missing key = not on this kernel. */
  sysctls: Record<string, ObservedKey>;
  /** Bucket count and the way to change it: the sysctl where writable, else the module parameter, else none. */
  buckets: { value: number; via: 'sysctl' | 'hashsize' | null; reason?: string } | null;
  /** Sysctls listed but not readable here, by key: why (permission denied, ...); never "not present". */
  unreadable?: Record<string, string>;
  /** True in the initial network namespace; null when it cannot be told. */
  hostNetns: boolean | null;
}

/** What our NOTRACK chains should hold. */
export interface NotrackDesired {
  rules: NotrackRule[];
  /** Accept --ctstate UNTRACKED first in filter INPUT, in an owned chain. */
  acceptUntracked: boolean;
}

/** A NOTRACK backend's comparison of our chains with a NotrackDesired. */
export interface NotrackCheck {
  inSync: boolean;
  /** Rendered rule lines (canonical form) that should be there and are not. */
  missing: string[];
  /** Rendered rule lines in our chains that should not be there. */
  extra: string[];
  /** How many rules we own now (for the owned-rules metric). */
  ownedRules: number;
}

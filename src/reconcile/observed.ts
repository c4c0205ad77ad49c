// What the kernel looks like now, as far as the planner needs it. Read by
// src/kernel/, consumed by the pure planner.

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

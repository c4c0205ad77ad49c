// Pure planner: (desired, observed, baseline, NOTRACK check) -> ordered
// actions with from/to values. No I/O: the executor writes, this only decides.
import { MAX_SYSCTL } from '../policy/sysctl-keys.js';
import type { DesiredState } from '../policy/types.js';
import type { ObservedState } from '../kernel/observed-state.js';
import type { NotrackCheck, NotrackDesired } from '../kernel/notrack/backend.js';

/** The logical key of the hash bucket count (written via the sysctl or the hashsize parameter). */
export const BUCKETS_KEY = 'buckets';
/** The logical key of our NOTRACK chains. */
export const NOTRACK_KEY = 'notrack';
const HASHSIZE_NOT_HOST_NETNS = 'the hashsize parameter can only be changed from the host network namespace';

/** What the node had before we changed it, and what NOTRACK state we own. */
export interface Baseline {
  /** Value of each key before our first change: sysctl file names and BUCKETS_KEY. */
  values: Record<string, number>;
  /** True once we may have created NOTRACK chains (set before the first sync). */
  notrackOwned: boolean;
  /** The rule set of our last successful sync: what a failed later sync rolls back to. */
  notrackApplied?: NotrackDesired;
}

export function emptyBaseline(): Baseline {
  return { values: {}, notrackOwned: false };
}

/** An action that puts a key back to its baseline (or removes our rules): `desired` no longer asks for it. */
export function givesBack(action: Action, desired: DesiredState): boolean {
  return (
    action.kind === 'notrack-remove' ||
    (action.kind === 'sysctl' && !(action.key in desired.sysctls)) ||
    (action.kind === 'buckets' && desired.buckets === undefined)
  );
}

/** Whether we changed anything here that is not given back yet. */
export function holdsChanges(baseline: Baseline): boolean {
  return Object.keys(baseline.values).length > 0 || baseline.notrackOwned;
}

export type Action =
  | { kind: 'sysctl'; key: string; from: number; to: number }
  | { kind: 'buckets'; key: typeof BUCKETS_KEY; via: 'sysctl' | 'hashsize'; from: number; to: number }
  /** from: the set to roll back to; null = we owned no rules before (roll back by removing). */
  | { kind: 'notrack-sync'; key: typeof NOTRACK_KEY; to: NotrackDesired; from: NotrackDesired | null; missing: string[]; extra: string[] }
  | { kind: 'notrack-remove'; key: typeof NOTRACK_KEY; from: NotrackDesired | null; extra: string[] };

export type ValueAction = Extract<Action, { kind: 'sysctl' | 'buckets' }>;

export interface NotApplicable {
  key: string;
  desired: number;
  current?: number;
  reason: string;
}

export interface Plan {
  actions: Action[];
  notApplicable: NotApplicable[];
  /** Nothing to do and nothing the node cannot do: the node matches the policy. */
  inSync: boolean;
}

/**
 * The kernel rounds a bucket count up to whole pages of bucket heads
 * (nf_ct_alloc_hashtable: roundup(n, PAGE_SIZE / sizeof(struct hlist_nulls_head));
 * seen here: 1000 reads back 1024, 262145 reads back 262656). Page size is 4, 16 or
 * 64 KiB, so `actual` matches `desired` when it is that rounding for one of them.
 */
export function bucketsMatch(desired: number, actual: number): boolean {
  return [512, 2048, 8192].some((perPage) => Math.ceil(desired / perPage) * perPage === actual);
}

export function isValueAction(a: Action): a is ValueAction {
  return a.kind === 'sysctl' || a.kind === 'buckets';
}

function sysctlActions(desired: DesiredState, observed: ObservedState, baseline: Baseline, out: Plan): void {
  // A key we changed and the policy no longer names goes back to its baseline value.
  const targets = new Map<string, number>();
  for (const [key, value] of Object.entries(baseline.values)) if (key !== BUCKETS_KEY) targets.set(key, value);
  for (const [key, value] of Object.entries(desired.sysctls)) targets.set(key, value);
  for (const key of [...targets.keys()].sort()) {
    const to = targets.get(key)!;
    const seen = observed.sysctls[key];
    if (!seen) {
      out.notApplicable.push({ key, desired: to, reason: observed.unreadable?.[key] ?? 'not present on this kernel' });
    } else if (seen.value !== to) {
      if (seen.writable) out.actions.push({ kind: 'sysctl', key, from: seen.value, to });
      else out.notApplicable.push({ key, desired: to, current: seen.value, reason: seen.reason ?? 'not writable here' });
    }
  }
}

function bucketsAction(desired: DesiredState, observed: ObservedState, baseline: Baseline, out: Plan): void {
  const to = desired.buckets ?? baseline.values[BUCKETS_KEY];
  if (to === undefined) return;
  const seen = observed.buckets;
  if (!seen) {
    out.notApplicable.push({ key: BUCKETS_KEY, desired: to, reason: 'conntrack hash table not found (module not loaded?)' });
  } else if (!bucketsMatch(to, seen.value)) {
    // access(2) says a root-owned hashsize file is writable from any namespace, but
    // the kernel refuses it (EOPNOTSUPP) outside the initial one. Where the namespace
    // cannot be told (/proc/1/ns/net unreadable), a read-only nf_conntrack_max (0444
    // outside the initial namespace) tells the same.
    const outsideHostNetns = observed.hostNetns === false || (observed.hostNetns === null && observed.sysctls[MAX_SYSCTL]?.writable === false);
    const hashsizeRefused = seen.via === 'hashsize' && outsideHostNetns;
    if (seen.via && !hashsizeRefused) out.actions.push({ kind: 'buckets', key: BUCKETS_KEY, via: seen.via, from: seen.value, to });
    else {
      const reason = hashsizeRefused ? HASHSIZE_NOT_HOST_NETNS : (seen.reason ?? 'neither nf_conntrack_buckets nor the hashsize parameter is writable');
      out.notApplicable.push({ key: BUCKETS_KEY, desired: to, current: seen.value, reason });
    }
  }
}

/**
 * Order the table writes so the average chain length (about 2 x max / buckets) never
 * exceeds the larger of its old and new value in between: more buckets go in before a
 * higher max can fill them; when buckets shrink, max comes down first, so the smaller
 * table never has to take the old, larger max. The kernel itself accepts any order
 * (it does not tie max to buckets); it is lookups over long chains, under the
 * conntrack spinlocks, that suffer. It also leaves the safer state if the second
 * write fails before the rollback.
 */
function orderTableWrites(actions: Action[]): Action[] {
  const buckets = actions.find((a) => a.kind === 'buckets');
  const max = actions.find((a) => a.kind === 'sysctl' && a.key === MAX_SYSCTL);
  const rest = actions.filter((a) => a !== buckets && a !== max);
  const shrinking = buckets !== undefined && buckets.kind === 'buckets' && buckets.to < buckets.from;
  const table = (shrinking ? [max, buckets] : [buckets, max]).filter((a): a is Action => a !== undefined);
  return [...table, ...rest];
}

function notrackAction(desired: DesiredState, baseline: Baseline, check: NotrackCheck | null, out: Plan): void {
  const wanted = desired.notrack.length > 0 || desired.acceptUntracked;
  if (!wanted && !baseline.notrackOwned && (check === null || check.ownedRules === 0)) return;
  if (check === null) {
    const reason = wanted ? 'no NOTRACK backend (iptables or nft) usable on this host' : 'no NOTRACK backend to remove our chains with';
    out.notApplicable.push({ key: NOTRACK_KEY, desired: desired.notrack.length, reason });
    return;
  }
  // Rolling back to "none of ours" when the earlier set is unknown errs towards
  // the kernel's default: tracking everything.
  const from = check.ownedRules === 0 ? null : (baseline.notrackApplied ?? null);
  if (wanted && !check.inSync) {
    const to = { rules: desired.notrack, acceptUntracked: desired.acceptUntracked };
    out.actions.push({ kind: 'notrack-sync', key: NOTRACK_KEY, to, from, missing: check.missing, extra: check.extra });
  } else if (!wanted) {
    out.actions.push({ kind: 'notrack-remove', key: NOTRACK_KEY, from, extra: check.extra });
  }
}

/**
 * Decide what to write. Keys the node cannot change are NotApplicable (with the
 * reason) and do not hold back the others. NOTRACK is synced last, as one action.
 */
export function plan(desired: DesiredState, observed: ObservedState, baseline: Baseline, notrack: NotrackCheck | null): Plan {
  const out: Plan = { actions: [], notApplicable: [], inSync: false };
  bucketsAction(desired, observed, baseline, out);
  sysctlActions(desired, observed, baseline, out);
  out.actions = orderTableWrites(out.actions);
  notrackAction(desired, baseline, notrack, out);
  out.inSync = out.actions.length === 0 && out.notApplicable.length === 0;
  return out;
}

/**
 * The keys whose value comes from DryRun policies only: where `desired` (every
 * field) asks for something `enforced` (the Enforce-won fields) does not. The
 * NOTRACK rule set is one key: it is DryRun's when the two sets differ.
 */
export function dryRunKeys(desired: DesiredState, enforced: DesiredState): Set<string> {
  const keys = new Set(Object.keys(desired.sysctls).filter((k) => desired.sysctls[k] !== enforced.sysctls[k]));
  if (desired.buckets !== undefined && desired.buckets !== enforced.buckets) keys.add(BUCKETS_KEY);
  const rules = (s: DesiredState) => JSON.stringify([s.notrack, s.acceptUntracked]);
  if (rules(desired) !== rules(enforced)) keys.add(NOTRACK_KEY);
  return keys;
}

/** The part of a plan about `keys`. */
export function planOf(p: Plan, keys: ReadonlySet<string>): Plan {
  const actions = p.actions.filter((a) => keys.has(a.key));
  const notApplicable = p.notApplicable.filter((n) => keys.has(n.key));
  return { actions, notApplicable, inSync: actions.length === 0 && notApplicable.length === 0 };
}

// One pass as buildNodeStatus (src/report/node-status.ts) takes it, for the
// pure status tests: the host's snapshot, a reconciled outcome and the rest of
// a quiet pass; each test gives only what it is about.
import type { HostSnapshot } from '../../src/kernel/snapshot.js';
import type { EffectivePolicy } from '../../src/policy/effective.js';
import type { ReconcileResult } from '../../src/reconcile/reconciler.js';
import type { DropWindow } from '../../src/report/drops.js';
import type { NodeStatusInputs, PassOutcome } from '../../src/report/node-status.js';

/** No drop of any kind in the last 30 s. */
export const QUIET: DropWindow = { seconds: 30, tableFull: 0, insertionRace: 0, earlyDrop: 0, insertFailed: 0, clashResolved: 0 };

/** The host namespace of a 6.18 kernel (netns 4026531833) with `count` entries in its table, every stat read. */
export function hostSnapshot(s: {
  count: number;
  max: number;
  buckets: number;
  drop?: number;
  sysctls?: Record<string, number>;
  memTotalBytes: number;
}): HostSnapshot {
  const { count, drop = 0 } = s;
  return {
    kernelRelease: '6.18.44',
    moduleLoaded: true,
    netns: { host: true, inode: 4026531833 },
    table: { count, max: s.max, buckets: s.buckets, hashsize: s.buckets },
    sysctls: s.sysctls ?? {},
    stats: { source: 'stat-file', counters: { drop, earlyDrop: 0, insertFailed: 0, invalid: 0, searchRestart: 0 }, entries: count, cpus: 2, missing: [] },
    memory: { memTotalBytes: s.memTotalBytes, slabObjectSize: 256 },
    kubeProxy: { running: false, pids: [] },
    unreadable: [],
  };
}

/** A pass that reconciled `effective` in Enforce, in sync, nothing withheld; `over` changes the result. */
export function reconciledPass(effective: EffectivePolicy, generations: Record<string, number>, over: Partial<ReconcileResult> = {}): PassOutcome {
  const result: ReconcileResult = {
    mode: 'Enforce',
    plan: { actions: [], notApplicable: [], inSync: true },
    drift: [],
    notApplicable: [],
    withheld: [],
    inSync: true,
    durationMs: 1,
    ...over,
  };
  return { kind: 'reconciled', effective, result, generations };
}

/** Node n1 at 2026-01-01T00:00:00Z, its table read from procfs, NOTRACK through nftables, no drops, no earlier conditions. */
export function passInputs(given: Pick<NodeStatusInputs, 'snapshot' | 'outcome' | 'cidrs' | 'baseline'> & Partial<NodeStatusInputs>): NodeStatusInputs {
  return {
    nodeName: 'n1',
    now: new Date('2026-01-01T00:00:00Z'),
    summary: null,
    tableSource: 'procfs',
    notrackBackend: 'nftables',
    drops: { window: QUIET, kernelLoggedFull: false },
    previousConditions: [],
    ...given,
  };
}

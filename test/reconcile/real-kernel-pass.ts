// Run inside a throw-away network namespace (`ip netns exec`) by
// real-kernel.test.ts: the engine against the real kernel's files, with the
// real observer. Prints one JSON line. Writes only per-namespace timeouts; the
// global keys are in the policy to show they come out NotApplicable here.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realHost } from '../../src/kernel/host.js';
import { readObservedState } from '../../src/kernel/observed-state.js';
import type { DesiredState } from '../../src/policy/types.js';
import { FileBaselineStore } from '../../src/reconcile/baseline-store.js';
import { Executor } from '../../src/reconcile/executor.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';

const host = realHost({ procRoot: '/proc', sysRoot: '/sys' }, process.geteuid?.() === 0);
const { files, paths } = host;
const KEYS = ['nf_conntrack_tcp_timeout_established', 'nf_conntrack_tcp_timeout_time_wait', 'nf_conntrack_udp_timeout', 'nf_conntrack_icmp_timeout'];
const GLOBAL = ['nf_conntrack_max', 'nf_conntrack_buckets'];

async function values(keys: string[]): Promise<Record<string, number>> {
  const read = await Promise.all(keys.map(async (k) => Number((await files.read(paths.sysctl(k))).trim())));
  return Object.fromEntries(keys.map((k, i) => [k, read[i]!]));
}

async function main(): Promise<Record<string, unknown>> {
  if (await files.canWrite(paths.sysctl('nf_conntrack_max'))) return { skip: 'nf_conntrack_max is writable here: not a non-initial namespace' };
  const start = await values([...KEYS, ...GLOBAL]);
  const desired: DesiredState = {
    sysctls: {
      nf_conntrack_tcp_timeout_established: 600,
      nf_conntrack_tcp_timeout_time_wait: 30,
      nf_conntrack_udp_timeout: 10,
      nf_conntrack_icmp_timeout: 5,
      nf_conntrack_max: start.nf_conntrack_max! * 2,
    },
    buckets: start.nf_conntrack_buckets! * 2,
    notrack: [],
    acceptUntracked: false,
  };
  const stateDir = await mkdtemp(join(tmpdir(), 'ctop-real-pass-'));
  try {
    const reconciler = new Reconciler({
      observe: () => readObservedState(host),
      host,
      backend: null,
      baselineStore: new FileBaselineStore(stateDir),
    });
    const dryRun = await reconciler.reconcile(desired, 'DryRun');
    const afterDryRun = await values(KEYS);
    const apply = await reconciler.reconcile(desired, 'Enforce');
    const afterApply = await values(KEYS);
    const noop = await reconciler.reconcile(desired, 'Enforce');
    await files.write(paths.sysctl('nf_conntrack_tcp_timeout_time_wait'), '120\n'); // an outside writer
    const corrected = await reconciler.reconcile(desired, 'Enforce');
    const afterCorrection = await values(KEYS);
    // All-or-nothing on the real kernel: the second write is refused (EACCES), the first is put back.
    const refused = await new Executor(host, null).execute([
      { kind: 'sysctl', key: 'nf_conntrack_udp_timeout', from: 10, to: 11 },
      { kind: 'sysctl', key: 'nf_conntrack_max', from: start.nf_conntrack_max!, to: start.nf_conntrack_max! * 2 },
    ]);
    const afterRefused = await values(KEYS);
    const restore = await reconciler.restore();
    const end = await values([...KEYS, ...GLOBAL]);
    return { start, dryRun, afterDryRun, apply, afterApply, noop, corrected, afterCorrection, refused, afterRefused, restore, end };
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
}

console.log(JSON.stringify(await main()));

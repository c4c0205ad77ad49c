import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DesiredState } from '../../src/policy/types.js';
import type { NotrackCheck } from '../../src/kernel/notrack/backend.js';
import { Executor } from '../../src/reconcile/executor.js';
import { dryRunKeys, emptyBaseline, plan, planOf, type Action, type Baseline } from '../../src/reconcile/planner.js';
import { readObservedState, type ObservedState } from '../../src/kernel/observed-state.js';
import { conntrackKernel, paths, type KernelOptions } from './kernel-fixture.js';
import { fakeHost } from '../support/fake-host.js';

const LOOPBACK = { name: 'loopback', interface: 'lo', direction: 'both' as const };

function desired(partial: Partial<DesiredState> = {}): DesiredState {
  return { sysctls: {}, notrack: [], acceptUntracked: false, ...partial };
}

async function observe(options: KernelOptions = {}, hostNetns: boolean | null = null): Promise<ObservedState> {
  return { ...(await readObservedState(fakeHost(conntrackKernel(options), paths))), hostNetns };
}

const summary = (actions: Action[]) => actions.map((a) => ('to' in a && typeof a.to === 'number' ? `${a.key} ${a.from}->${a.to}` : `${a.kind}`));

const cases: Array<{
  name: string;
  kernel?: KernelOptions;
  hostNetns?: boolean;
  desired: DesiredState;
  baseline?: Baseline;
  actions: string[];
  notApplicable?: Array<[string, string]>;
}> = [
  {
    name: 'growing the table: buckets before max, then the timeouts',
    desired: desired({ sysctls: { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_established: 600 }, buckets: 524288 }),
    actions: ['buckets 262144->524288', 'nf_conntrack_max 262144->1048576', 'nf_conntrack_tcp_timeout_established 432000->600'],
  },
  {
    name: 'shrinking the table: max first',
    desired: desired({ sysctls: { nf_conntrack_max: 65536 }, buckets: 16384 }),
    actions: ['nf_conntrack_max 262144->65536', 'buckets 262144->16384'],
  },
  {
    name: 'in sync: nothing to do',
    desired: desired({ sysctls: { nf_conntrack_max: 262144, nf_conntrack_udp_timeout: 30 }, buckets: 262144 }),
    actions: [],
  },
  {
    name: 'the kernel rounds buckets up to a page of heads: 1000 is in sync at 1024',
    kernel: { buckets: 1024 },
    desired: desired({ buckets: 1000 }),
    actions: [],
  },
  {
    name: 'max read-only in a pod namespace: NotApplicable, timeouts still planned',
    kernel: { refuse: { nf_conntrack_max: 'EACCES', nf_conntrack_buckets: 'EACCES', hashsize: 'EROFS' } },
    desired: desired({ sysctls: { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_time_wait: 30 }, buckets: 524288 }),
    actions: ['nf_conntrack_tcp_timeout_time_wait 120->30'],
    notApplicable: [
      [
        'buckets',
        'neither nf_conntrack_buckets nor the hashsize module parameter is writable here (read-only outside the host network namespace; hashsize module parameter not writable: read-only /sys or not root)',
      ],
      ['nf_conntrack_max', 'read-only outside the host network namespace'],
    ],
  },
  {
    name: 'read-only /sys but a writable buckets sysctl: via sysctl',
    kernel: { refuse: { hashsize: 'EROFS' } },
    desired: desired({ buckets: 524288 }),
    actions: ['buckets 262144->524288'],
  },
  {
    name: 'old kernel, buckets sysctl read-only: via hashsize',
    kernel: { refuse: { nf_conntrack_buckets: 'EACCES' } },
    desired: desired({ buckets: 524288 }),
    actions: ['buckets 262144->524288'],
  },
  {
    name: 'hashsize looks writable from a pod namespace, but the kernel refuses it there',
    kernel: { refuse: { nf_conntrack_buckets: 'EACCES' } },
    hostNetns: false,
    desired: desired({ buckets: 524288 }),
    actions: [],
    notApplicable: [['buckets', 'the hashsize parameter can only be changed from the host network namespace']],
  },
  {
    name: 'namespace unknown, but nf_conntrack_max read-only: no hashsize write either',
    kernel: { refuse: { nf_conntrack_buckets: 'EACCES', nf_conntrack_max: 'EACCES' } },
    desired: desired({ buckets: 524288 }),
    actions: [],
    notApplicable: [['buckets', 'the hashsize parameter can only be changed from the host network namespace']],
  },
  {
    name: 'key missing on this kernel',
    desired: desired({ sysctls: { nf_conntrack_dccp_timeout_request: 60, nf_conntrack_icmp_timeout: 10 } }),
    actions: ['nf_conntrack_icmp_timeout 30->10'],
    notApplicable: [['nf_conntrack_dccp_timeout_request', 'not present on this kernel']],
  },
  ...(
    [
      ['EACCES', 'present but not readable here: permission denied (EACCES)'],
      ['EPERM', 'present but not readable here: operation not permitted (EPERM)'],
      ['EIO', 'present but could not be read (EIO)'],
    ] as const
  ).map(([code, reason]) => ({
    name: `key listed but its read fails with ${code}: said so, not "not present"`,
    kernel: { refuseRead: { nf_conntrack_udp_timeout: code } },
    desired: desired({ sysctls: { nf_conntrack_udp_timeout: 10, nf_conntrack_icmp_timeout: 10 } }),
    actions: ['nf_conntrack_icmp_timeout 30->10'],
    notApplicable: [['nf_conntrack_udp_timeout', reason]] as Array<[string, string]>,
  })),
  {
    name: 'a key the policy no longer names goes back to its baseline',
    desired: desired({ sysctls: { nf_conntrack_max: 262144 } }),
    kernel: { values: { nf_conntrack_tcp_timeout_established: 600 } },
    baseline: { values: { nf_conntrack_tcp_timeout_established: 432000 }, notrackOwned: false },
    actions: ['nf_conntrack_tcp_timeout_established 600->432000'],
  },
];

for (const c of cases) {
  test(`plan: ${c.name}`, async () => {
    const result = plan(c.desired, await observe(c.kernel, c.hostNetns), c.baseline ?? emptyBaseline(), null);
    assert.deepEqual(summary(result.actions), c.actions);
    assert.deepEqual(
      result.notApplicable.map((n) => [n.key, n.reason]),
      c.notApplicable ?? [],
    );
    assert.equal(result.inSync, c.actions.length === 0 && (c.notApplicable ?? []).length === 0);
  });
}

const notrackCases: Array<{ name: string; desired: DesiredState; check: NotrackCheck | null; baseline?: Baseline; kinds: string[]; notApplicable?: string }> = [
  {
    name: 'rules missing: one sync action, last, carrying the lines',
    desired: desired({ notrack: [LOOPBACK], sysctls: { nf_conntrack_icmp_timeout: 10 } }),
    check: { inSync: false, missing: ['-i lo -j NOTRACK'], extra: [], ownedRules: 0 },
    kinds: ['sysctl', 'notrack-sync'],
  },
  {
    name: 'rules in sync: nothing',
    desired: desired({ notrack: [LOOPBACK] }),
    check: { inSync: true, missing: [], extra: [], ownedRules: 2 },
    kinds: [],
  },
  {
    name: 'policy without rules, chains of ours: removed',
    desired: desired(),
    check: { inSync: false, missing: [], extra: ['-i lo -j NOTRACK'], ownedRules: 1 },
    baseline: { values: {}, notrackOwned: true },
    kinds: ['notrack-remove'],
  },
  {
    name: 'no backend on this host: NotApplicable',
    desired: desired({ notrack: [LOOPBACK] }),
    check: null,
    kinds: [],
    notApplicable: 'no NOTRACK backend (iptables or nft) usable on this host',
  },
];

for (const c of notrackCases) {
  test(`plan notrack: ${c.name}`, async () => {
    const result = plan(c.desired, await observe(), c.baseline ?? emptyBaseline(), c.check);
    assert.deepEqual(
      result.actions.map((a) => a.kind),
      c.kinds,
    );
    const sync = result.actions.find((a) => a.kind === 'notrack-sync');
    if (sync) assert.deepEqual([sync.missing, sync.extra, sync.from], [c.check!.missing, c.check!.extra, null]);
    assert.deepEqual(
      result.notApplicable.map((n) => n.reason),
      c.notApplicable ? [c.notApplicable] : [],
    );
  });
}

test('plan: a second plan after applying the first is empty', async () => {
  const kernel = conntrackKernel();
  const observeKernel = () => readObservedState(fakeHost(kernel, paths));
  const want = desired({ sysctls: { nf_conntrack_max: 1048576, nf_conntrack_tcp_timeout_established: 600, nf_conntrack_udp_timeout: 10 }, buckets: 300000 });
  const first = plan(want, await observeKernel(), emptyBaseline(), null);
  assert.equal(first.actions.length, 4);
  const run = await new Executor(fakeHost(kernel, paths), null).execute(first.actions);
  assert.equal(run.ok, true, run.failed?.error);
  const second = plan(want, await observeKernel(), emptyBaseline(), null);
  assert.deepEqual(second, { actions: [], notApplicable: [], inSync: true });
  assert.equal(kernel.value(paths.sysctl('nf_conntrack_buckets')), '300032', 'the fake rounds like the kernel');
});

test('dryRunKeys: the keys only DryRun policies ask for (a differing value, or a NOTRACK set that differs)', () => {
  const dns = { name: 'dns', protocol: 'udp' as const, ports: [{ from: 53, to: 53 }], direction: 'both' as const };
  const cases: Array<{ name: string; desired: DesiredState; enforced: DesiredState; keys: string[] }> = [
    { name: 'nothing DryRun', desired: desired({ sysctls: { nf_conntrack_max: 1 } }), enforced: desired({ sysctls: { nf_conntrack_max: 1 } }), keys: [] },
    {
      name: 'a key only DryRun sets, and one both set alike',
      desired: desired({ sysctls: { nf_conntrack_max: 1, nf_conntrack_udp_timeout: 30 } }),
      enforced: desired({ sysctls: { nf_conntrack_max: 1 } }),
      keys: ['nf_conntrack_udp_timeout'],
    },
    { name: 'buckets from DryRun', desired: desired({ buckets: 1024 }), enforced: desired(), keys: ['buckets'] },
    {
      name: 'a DryRun NOTRACK rule beside an enforced one: the set is one key',
      desired: desired({ notrack: [dns, LOOPBACK] }),
      enforced: desired({ notrack: [LOOPBACK] }),
      keys: ['notrack'],
    },
    { name: 'acceptUntracked from DryRun', desired: desired({ acceptUntracked: true }), enforced: desired(), keys: ['notrack'] },
  ];
  for (const c of cases) assert.deepEqual([...dryRunKeys(c.desired, c.enforced)].sort(), c.keys, c.name);
});

test('planOf: the actions and reasons of the given keys; in sync when none is left', () => {
  const p = {
    actions: [{ kind: 'sysctl' as const, key: 'nf_conntrack_max', from: 1, to: 2 }],
    notApplicable: [{ key: 'buckets', desired: 2, reason: 'read-only' }],
    inSync: false,
  };
  assert.deepEqual(planOf(p, new Set(['nf_conntrack_max'])), { actions: p.actions, notApplicable: [], inSync: false });
  assert.deepEqual(planOf(p, new Set(['buckets'])), { actions: [], notApplicable: p.notApplicable, inSync: false });
  assert.deepEqual(planOf(p, new Set(['notrack'])), { actions: [], notApplicable: [], inSync: true });
});

// The node agent's loop on a copied kernel tree (FixtureKernel), the real
// reconciler and status builder, a policy source and publisher in memory, and
// a fake clock: what it does when no policy selects the node, when the
// policies are not known yet, in DryRun (a plan, not drift), what it gives
// back when no Enforce policy asks for a value any more, how the table watch
// between passes reports a full table before the next tick, and how autoSize
// grows ahead of it and gives back after.
import { mock, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { AgentMetrics } from '../../src/metrics/registries.js';
import { eventsForPass } from '../../src/report/node-events.js';
import { WATCH_DEFAULTS } from '../../src/agent/table-watch.js';
import { validatePolicyObjects } from '../../src/policy/load.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { fixtureText, loadFixtureTree, type FixtureTree } from '../support/fixture-tree.js';
import { ESTABLISHED, INTERVAL_MS, T0, TIME_WAIT, policy, rig } from '../support/agent-rig.js';
import { statFileWith } from '../support/stat-file.js';

const condition = (s: NodeStatusDoc | null, type: string) => s?.conditions.find((c) => c.type === type);
const timeWait = (tree: FixtureTree) => tree.kernel.value(tree.paths.sysctl(TIME_WAIT));
const established = (tree: FixtureTree) => tree.kernel.value(tree.paths.sysctl(ESTABLISHED));
/** The keys of a labelled gauge in the exposition, e.g. every conntrack_operator_drift{key}. */
async function keysOf(metrics: AgentMetrics, name: string): Promise<string[]> {
  return [...(await metrics.render()).matchAll(new RegExp(`^${name}\\{key="([^"]+)"\\} 1$`, 'gm'))].map((m) => m[1]!);
}

test('node agent: no policy selects the node any more (its labels changed)', async () => {
  const cases = [
    {
      name: 'policies known: the original values are put back',
      known: true,
      forceDryRun: false,
      kind: 'restored',
      applied: 'Restored',
      after: '120',
      ready: null,
    },
    {
      name: 'policies not known yet: nothing restored, not Ready',
      known: false,
      forceDryRun: false,
      kind: 'no-policy',
      applied: 'NoPolicy',
      after: '30',
      ready: /policies are not known/,
    },
    {
      name: 'told never to write (--dry-run): nothing restored',
      known: true,
      forceDryRun: true,
      kind: 'no-policy',
      applied: 'NoPolicy',
      after: '30',
      ready: null,
    },
  ];
  for (const c of cases) {
    const tree = loadFixtureTree('host-6.18');
    // An earlier run of the agent, while the node was in the pool, applied the policy.
    const earlier = rig(tree, { labels: { pool: 'web' } });
    assert.equal((await earlier.agent.pass()).outcome.kind, 'reconciled', c.name);
    assert.equal(timeWait(tree), '30', `${c.name}: applied first`);
    const writes = tree.kernel.writes.length;

    const { agent } = rig(tree, { labels: {}, known: c.known, forceDryRun: c.forceDryRun, baselineStore: earlier.baselineStore });
    const { outcome, status } = await agent.pass();
    assert.equal(outcome.kind, c.kind, c.name);
    assert.equal(condition(status, 'Applied')?.reason, c.applied, c.name);
    assert.equal(timeWait(tree), c.after, c.name);
    if (c.kind !== 'restored') assert.equal(tree.kernel.writes.length, writes, `${c.name}: no write`);
    if (c.ready === null) assert.equal(agent.readyProblem(), null, c.name);
    else assert.match(agent.readyProblem() ?? '', c.ready, c.name);
  }
});

test('node agent: DryRun plans, reports and writes nothing, pass after pass', async () => {
  const cases = [
    { name: 'the policy says DryRun', mode: 'DryRun' as const, forceDryRun: false },
    { name: '--dry-run over an Enforce policy', mode: 'Enforce' as const, forceDryRun: true },
  ];
  for (const c of cases) {
    const tree = loadFixtureTree('host-6.18');
    const { agent, baselineStore, metrics } = rig(tree, { labels: { pool: 'web' }, mode: c.mode, forceDryRun: c.forceDryRun });
    for (const pass of [1, 2]) {
      const { outcome, status } = await agent.pass();
      assert.ok(outcome.kind === 'reconciled', `${c.name}, pass ${pass}: ${outcome.kind}`);
      assert.equal(outcome.result.mode, 'DryRun', c.name);
      assert.deepEqual(
        outcome.result.plan.actions.map((a) => a.key),
        [TIME_WAIT],
        `${c.name}: what would change`,
      );
      assert.equal(condition(status, 'Applied')?.reason, 'DryRun', c.name);
      // What DryRun would change is a plan: nothing was applied, so nothing drifted.
      assert.deepEqual([condition(status, 'Drifted')?.status, status?.driftCount, status?.drift], ['False', 0, undefined], c.name);
      assert.deepEqual(status?.plan, [{ key: TIME_WAIT, change: '120 -> 30' }], c.name);
      assert.match(condition(status, 'Applied')?.message ?? '', /1 change\(s\) would be made \(nf_conntrack_tcp_timeout_time_wait\)/, c.name);
      assert.deepEqual(await keysOf(metrics, 'conntrack_operator_drift'), [], `${c.name}: no drift metric`);
      assert.deepEqual(await keysOf(metrics, 'conntrack_operator_plan_pending'), [TIME_WAIT], `${c.name}: the plan's metric`);
    }
    assert.deepEqual(tree.kernel.writes, [], `${c.name}: no kernel write`);
    assert.equal(timeWait(tree), '120', c.name);
    assert.deepEqual((await baselineStore.load()).values, {}, `${c.name}: nothing recorded as ours`);
  }
});

test('node agent: a value no Enforce policy asks for any more is given back; DryRun fields are only planned', async () => {
  const web = (mode: 'Enforce' | 'DryRun') => policy('web', mode, { timeWaitSeconds: 30 });
  const trial = policy('trial', 'DryRun', { timeWaitSeconds: 30, establishedSeconds: 600 });
  const cases = [
    { name: 'Enforce switched to DryRun', then: [web('DryRun')], plan: [TIME_WAIT] },
    { name: 'Enforce deleted while a DryRun policy still selects the node', then: [trial], plan: [ESTABLISHED, TIME_WAIT] },
  ];
  for (const c of cases) {
    const tree = loadFixtureTree('host-6.18');
    const { agent, source, metrics, baselineStore } = rig(tree, { labels: { pool: 'web' } });
    source.snapshot = { policies: [web('Enforce'), trial] };
    const applied = await agent.pass();
    assert.deepEqual([timeWait(tree), established(tree)], ['30', '432000'], `${c.name}: Enforce wrote its field, not the DryRun one`);
    assert.equal(condition(applied.status, 'Applied')?.reason, 'Applied', c.name);
    assert.match(
      condition(applied.status, 'Applied')?.message ?? '',
      /Its DryRun fields: 1 change\(s\) would be made \(nf_conntrack_tcp_timeout_established\), not written/,
    );
    assert.deepEqual(applied.status?.plan, [{ key: ESTABLISHED, change: '432000 -> 600' }], c.name);
    assert.deepEqual(await keysOf(metrics, 'conntrack_operator_plan_pending'), [ESTABLISHED], c.name);

    source.snapshot = { policies: c.then };
    const { outcome, status } = await agent.pass();
    assert.deepEqual([timeWait(tree), established(tree)], ['120', '432000'], `${c.name}: the value from before the first change is back`);
    assert.deepEqual(await baselineStore.load(), { values: {}, notrackOwned: false }, `${c.name}: nothing of ours left`);
    assert.ok(outcome.kind === 'reconciled' && outcome.result.execution?.ok, c.name);
    const appliedCondition = condition(status, 'Applied');
    assert.equal(appliedCondition?.reason, 'DryRun', c.name);
    assert.match(appliedCondition?.message ?? '', /Given back, as no Enforce policy asks for them any more: nf_conntrack_tcp_timeout_time_wait\./, c.name);
    assert.deepEqual(
      status?.plan?.map((p) => p.key),
      c.plan,
      `${c.name}: what DryRun would change now`,
    );
    assert.equal(condition(status, 'Drifted')?.status, 'False', c.name);
    assert.deepEqual(await keysOf(metrics, 'conntrack_operator_drift'), [], c.name);

    const writes = tree.kernel.writes.length;
    const next = await agent.pass();
    assert.equal(tree.kernel.writes.length, writes, `${c.name}: the next pass writes nothing`);
    assert.equal(condition(next.status, 'Applied')?.reason, 'DryRun', c.name);
    assert.deepEqual(
      next.status?.plan?.map((p) => p.key),
      c.plan,
      c.name,
    );
  }
});

test('node agent: --dry-run never writes, not even to give a value back', async () => {
  const tree = loadFixtureTree('host-6.18');
  const earlier = rig(tree, { labels: { pool: 'web' } });
  await earlier.agent.pass();
  assert.equal(timeWait(tree), '30');
  const writes = tree.kernel.writes.length;
  const { agent, source } = rig(tree, { labels: { pool: 'web' }, forceDryRun: true, baselineStore: earlier.baselineStore });
  source.snapshot = { policies: [policy('web', 'DryRun', { establishedSeconds: 600 })] };
  const { status } = await agent.pass();
  assert.equal(tree.kernel.writes.length, writes, 'no write');
  assert.equal(timeWait(tree), '30');
  assert.deepEqual(
    status?.plan,
    [
      { key: ESTABLISHED, change: '432000 -> 600' },
      { key: TIME_WAIT, change: '30 -> 120' },
    ],
    'the give-back is in the plan',
  );
  assert.equal(status?.appliedPolicy?.mode, 'DryRun');
});

test('node agent: triggers during a pass (policy changes, the watch) make one more pass right after it, not one each', async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const tree = loadFixtureTree('host-6.18');
  const { agent, published, source } = rig(tree, { labels: { pool: 'web' } });
  // A pass reads the policies first: then it is in flight.
  const read = source.current.bind(source);
  const inFlight = new Promise<void>((resolve) => (source.current = () => (resolve(), read())));
  agent.start();
  await inFlight;
  for (let i = 0; i < 3; i++) agent.trigger();
  await agent.settled();
  assert.equal(published.length, 2, 'the first pass and one for the three triggers');
  agent.trigger(); // nothing in flight: a pass of its own
  await agent.settled();
  assert.equal(published.length, 3);
  await agent.stop();
});

test("node agent: the table watch reports a pod namespace's full table within a tick, not at the next interval", async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  // The host and two pod namespaces, copied from a real kernel; the global keys the pass reads.
  const tree = loadFixtureTree('netns-census');
  tree.kernel.set(tree.paths.sysctl('nf_conntrack_max'), '262144\n').set(tree.paths.sysctl('nf_conntrack_count'), '1\n');
  const { agent, clock, published, nextPublish } = rig(tree, { labels: {} });
  // The watch's look (and the pass it may ask for) has finished when the agent has settled.
  const advance = async (ms: number) => {
    clock.ms += ms;
    mock.timers.tick(ms);
    await agent.settled();
  };

  const first = nextPublish();
  agent.start();
  assert.deepEqual((await first).namespaces?.full, []);
  await agent.settled();

  // The counters did not move: the watch leaves the loop alone.
  await advance(WATCH_DEFAULTS.tickMs);
  await advance(WATCH_DEFAULTS.tickMs);
  // Pod B's namespace (read through pid 30620) drops 9 new connections for a full table.
  tree.kernel.set(tree.paths.statFile('30620'), statFileWith(12, 9));
  const second = nextPublish();
  await advance(WATCH_DEFAULTS.tickMs);
  assert.deepEqual(
    (await second).namespaces?.full.map((r) => [r.inode, r.pid, r.dropsRising]),
    [[4026532371, 30620, 9]],
  );
  assert.deepEqual(
    published.map((s) => Date.parse(s.lastProbeTime) - T0),
    [0, 3 * WATCH_DEFAULTS.tickMs],
    'one pass at start, one when the watch saw drops rise; none for the looks that saw nothing',
  );
  const { status } = await agent.stop();
  assert.equal(status, published.at(-1), 'stop() hands back the last status');
});

test("node agent: a pod namespace's drops stay in the status for an interval, whatever passes run right after", async (t) => {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const tree = loadFixtureTree('netns-census');
  tree.kernel.set(tree.paths.sysctl('nf_conntrack_max'), '262144\n').set(tree.paths.sysctl('nf_conntrack_count'), '1\n');
  const { agent, clock, nextPublish } = rig(tree, { labels: {} });
  const fullAt = async (ms: number) => {
    clock.ms = T0 + ms;
    const published = nextPublish();
    agent.trigger();
    return (await published).namespaces?.full.map((r) => [r.pid, r.dropsRising]);
  };
  const first = nextPublish();
  agent.start();
  await first;
  // Pod B's namespace drops 9 new connections; the interval's pass sees it.
  tree.kernel.set(tree.paths.statFile('30620'), statFileWith(12, 9));
  assert.deepEqual(await fullAt(INTERVAL_MS), [[30620, 9]]);
  // A pass 35 ms later (a kmsg line, the drop probe, a policy change): still judged over an interval, still full.
  assert.deepEqual(await fullAt(INTERVAL_MS + 35), [[30620, 9]]);
  // An interval after the drops, none since: no longer full.
  assert.deepEqual(await fullAt(2 * INTERVAL_MS + 35), []);
  await agent.stop();
});

test("node agent: the pressure response lowers timeouts from startPercent, and puts the policy's own (and the node's) back below stopPercent", async () => {
  const spec = {
    timeouts: { tcp: { timeWaitSeconds: 30 } },
    pressureResponse: { startPercent: 50, stopPercent: 40, timeouts: { tcp: { timeWaitSeconds: 10, establishedSeconds: 600 } } },
  };
  const parsed = validatePolicyObjects(
    [{ object: { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackPolicy', metadata: { name: 'busy', generation: 1 }, spec }, document: 1 }],
    'test',
  );
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const tree = loadFixtureTree('host-6.18'); // max 262144, TIME_WAIT 120 s, established 432000 s
  const { agent, clock, baselineStore } = rig(tree, { labels: {}, policies: parsed.policies });
  const setCount = (n: number) => tree.kernel.set(tree.paths.sysctl('nf_conntrack_count'), `${n}\n`);
  const est = () => established(tree);
  const steps = [
    // usage %, then what the kernel holds after the pass, the condition, the status section's timeouts
    { usage: 10, timeWait: '30', est: '432000', condition: 'False/Inactive', timeouts: undefined },
    { usage: 50, timeWait: '10', est: '600', condition: 'True/Active', timeouts: { [ESTABLISHED]: 600, [TIME_WAIT]: 10 } },
    { usage: 45, timeWait: '10', est: '600', condition: 'True/Active', timeouts: { [ESTABLISHED]: 600, [TIME_WAIT]: 10 } },
    { usage: 39, timeWait: '30', est: '432000', condition: 'False/Inactive', timeouts: undefined },
    { usage: 45, timeWait: '30', est: '432000', condition: 'False/Inactive', timeouts: undefined },
  ];
  let prev: NodeStatusDoc | null = null;
  const reasons: string[] = [];
  for (const [i, step] of steps.entries()) {
    setCount(Math.round((262144 * step.usage) / 100));
    clock.ms += INTERVAL_MS;
    const { status, outcome } = await agent.pass();
    const what = `pass ${i + 1} at ${step.usage}%`;
    assert.equal(outcome.kind, 'reconciled', what);
    assert.deepEqual([timeWait(tree), est()], [step.timeWait, step.est], what);
    const c = condition(status, 'PressureResponse');
    assert.equal(`${c?.status}/${c?.reason}`, step.condition, what);
    assert.deepEqual(status?.pressureResponse?.timeouts, step.timeouts, what);
    assert.equal(condition(status, 'Applied')?.reason, 'Applied', `${what}: in sync after the pass`);
    assert.equal(condition(status, 'Drifted')?.status, 'False', `${what}: our own change is not drift`);
    reasons.push(...eventsForPass(prev, status!, outcome).map((e) => e.reason));
    prev = status;
  }
  assert.deepEqual(
    reasons.filter((r) => r.includes('PressureResponse')),
    ['ConntrackPressureResponseStarted', 'ConntrackPressureResponseEnded'],
  );
  assert.equal(prev?.pressureResponse?.since, new Date(T0 + 4 * INTERVAL_MS).toISOString(), 'since: when it ended');
  // established went back to the node's own value and is no longer ours; TIME_WAIT stays the policy's.
  assert.deepEqual((await baselineStore.load()).values, { [TIME_WAIT]: 120 });
});

/** The netns-census tree with what a pass needs to size the table: RAM (the development VM's meminfo), max and buckets at 8,192. */
function sizableCensusTree(): FixtureTree {
  const tree = loadFixtureTree('netns-census');
  tree.kernel
    .set(tree.paths.meminfo(), fixtureText('host-6.18', 'proc/meminfo'))
    .set(tree.paths.sysctl('nf_conntrack_max'), '8192\n')
    .set(tree.paths.sysctl('nf_conntrack_buckets'), '8192\n')
    .set(tree.paths.sysctl('nf_conntrack_count'), '1\n');
  return tree;
}

const AUTO_SIZE = { table: { autoSize: { memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: 8192 } } };

/** The agent of pool=web with `spec` on `tree`, started under mock timers (reset after the test); `max` reads nf_conntrack_max. */
async function startedOn(t: TestContext, tree: FixtureTree, spec: Record<string, unknown> = AUTO_SIZE) {
  mock.timers.enable({ apis: ['setInterval'] });
  t.after(() => mock.timers.reset());
  const started = rig(tree, { labels: { pool: 'web' }, spec });
  started.agent.start();
  await started.agent.settled(); // the first pass has run: what max is now, it decided
  return { ...started, max: () => Number(tree.kernel.value(tree.paths.sysctl('nf_conntrack_max'))) };
}

test('node agent, autoSize: a pod namespace ramping at 500/s grows max ahead of the forecast full table, at once, and says so', async (t) => {
  const tree = sizableCensusTree();
  const { agent, clock, logged, max } = await startedOn(t, tree);
  assert.equal(max(), 8192, 'a calm node: the floor');
  // 20 s calm, then pod A's namespace (read through pid 30618) gains 500 entries a second.
  let grownAt: number | null = null;
  for (let s = 1; s <= 40 && grownAt === null; s++) {
    if (s > 20) tree.kernel.set(tree.paths.statFile('30618'), statFileWith(7 + 500 * (s - 20)));
    clock.ms += WATCH_DEFAULTS.tickMs;
    mock.timers.tick(WATCH_DEFAULTS.tickMs);
    await agent.settled();
    if (max() > 8192) grownAt = s - 20;
  }
  // The static table would be full at (8,192 - 7) / 500 = 16.4 s into the ramp.
  assert.ok(grownAt !== null && grownAt < 10, `grown ${grownAt} s into the ramp`);
  const line = logged.find((l) => l.msg === 'growing nf_conntrack_max ahead of a full table');
  assert.ok(line, JSON.stringify(logged.map((l) => l.msg)));
  assert.deepEqual([line.from, line.to, line.policy, line.node], [8192, max(), 'web', 'node-a']);
  assert.deepEqual((line.namespace as { key: number }).key, 4026532307);
  assert.equal((line.forecast as { ratePerSecond: number }).ratePerSecond, 500);
  assert.ok(max() >= 2 * (7 + 500 * grownAt! + 500 * 60), `holds the forecast count 60 s ahead at 50%: ${max()}`);
  await agent.stop();
});

test('node agent, autoSize: a pod namespace dropping for a full table doubles max at the next tick, and says so', async (t) => {
  const tree = sizableCensusTree();
  const { agent, clock, logged, max } = await startedOn(t, tree);
  // A burst between two looks: pod B's namespace filled and dropped 40 new connections; by the pass its
  // short-lived entries are down to 3,000 (6,000 at 50%: the count alone would not grow max).
  tree.kernel.set(tree.paths.statFile('30620'), statFileWith(3000, 40));
  clock.ms += WATCH_DEFAULTS.tickMs;
  mock.timers.tick(WATCH_DEFAULTS.tickMs);
  await agent.settled();
  assert.equal(max(), 16384);
  const line = logged.find((l) => l.msg === 'growing nf_conntrack_max: a namespace is dropping new connections for a full table');
  assert.ok(line, JSON.stringify(logged.map((l) => l.msg)));
  assert.deepEqual([line.from, line.to, (line.namespaces as Array<{ pid: number }>).map((n) => n.pid)], [8192, 16384, [30620]]);
  await agent.stop();
});

test('node agent, autoSize with shrinkAfterSeconds: after a surge max halves once a cooldown of calm, down to the floor, and says so', async (t) => {
  const tree = sizableCensusTree();
  tree.kernel.set(tree.paths.sysctl('nf_conntrack_max'), '65536\n').set(tree.paths.sysctl('nf_conntrack_buckets'), '65536\n');
  const spec = { table: { autoSize: { ...AUTO_SIZE.table.autoSize, shrinkAfterSeconds: 300 } } };
  const { agent, clock, logged, max } = await startedOn(t, tree, spec);
  const seen: Array<[number, number]> = [];
  for (let minute = 1; minute <= 20; minute++) {
    clock.ms += INTERVAL_MS;
    mock.timers.tick(INTERVAL_MS);
    await agent.settled();
    if (max() !== (seen.at(-1)?.[1] ?? 65536)) seen.push([minute, max()]);
  }
  // Calm from the first pass (the fullest holds 12 entries); a pass a minute; 300 s of calm before each halving.
  assert.deepEqual(seen, [
    [5, 32768],
    [10, 16384],
    [15, 8192],
  ]);
  assert.equal(Number(tree.kernel.value(tree.paths.sysctl('nf_conntrack_buckets'))), 8192, 'buckets follow');
  const gaveBack = logged.filter((l) => l.msg === 'giving back nf_conntrack_max after a calm spell');
  assert.deepEqual(
    gaveBack.map((l) => [l.from, l.to]),
    [
      [65536, 32768],
      [32768, 16384],
      [16384, 8192],
    ],
  );
  await agent.stop();
});

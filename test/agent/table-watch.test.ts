// The table watch over test/fixtures/netns-census (the host namespace and two
// pod namespaces, each pid's net/stat one inode per namespace) with a fake
// clock: what it reads each tick, and when it asks for a pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableWatch, WATCH_DEFAULTS, type TableWatchOptions, type WatchSettings, type WatchTrigger } from '../../src/agent/table-watch.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { readNetnsCensus } from '../../src/kernel/netns-census.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';
import { statFileWith } from '../support/stat-file.js';

const T0 = Date.parse('2026-11-22T04:00:00Z');
const HOST = { key: 4026531844, inode: 4026531833 };
const NS_A = 4026532307; // read through pid 30618
const NS_B = 4026532372; // read through pid 30620
const SETTINGS: WatchSettings = { horizonSeconds: 60, warningPercent: 70, canGrow: false };

async function rig(o: Partial<TableWatchOptions> = {}) {
  const t = loadFixtureTree('netns-census');
  t.kernel.set(t.paths.sysctl('nf_conntrack_max'), '8192\n');
  const clock = { ms: T0 };
  const reads: string[] = [];
  const stats: string[] = [];
  const lists: string[] = [];
  const files: KernelFiles = {
    read: (p) => (reads.push(p), t.kernel.read(p)),
    inode: (p) => (stats.push(p), t.kernel.inode(p)),
    linkCount: (p) => t.kernel.linkCount(p),
    readLink: (p) => t.kernel.readLink(p),
    list: (d) => (lists.push(d), t.kernel.list(d)),
    write: (p, d) => t.kernel.write(p, d),
    canWrite: (p) => t.kernel.canWrite(p),
    mode: (p) => t.kernel.mode(p),
    stream: (p) => t.kernel.stream(p),
  };
  const host = fakeHost(files, t.paths, { clock: () => clock.ms, isRoot: true });
  const census = await readNetnsCensus(host, { host: true, inode: HOST.inode });
  const triggers: Array<{ atS: number; why: WatchTrigger[] }> = [];
  const watch = new TableWatch(host, { ...WATCH_DEFAULTS, ...o }, (why) => triggers.push({ atS: (clock.ms - T0) / 1000, why }));
  const tick = async (ms = 1000) => {
    clock.ms += ms;
    await watch.tick();
  };
  reads.length = 0;
  stats.length = 0;
  lists.length = 0;
  return { t, clock, census, watch, triggers, tick, reads, stats, lists };
}

test('before the first census it only learns the pids; then it reads every namespace each tick and asks nothing of a quiet table', async () => {
  const r = await rig();
  await r.tick();
  assert.equal(r.watch.view(), null);
  assert.equal(r.stats.length, 6, 'one stat per pid, the first time');
  assert.deepEqual(
    r.reads.filter((p) => p.endsWith('nf_conntrack')),
    [],
  );
  r.watch.rebase(r.census, SETTINGS);
  r.stats.length = 0;
  for (let i = 0; i < 3; i++) await r.tick();
  assert.equal(r.stats.length, 0, 'no stat for a pid seen before');
  const statReads = r.reads.filter((p) => p.endsWith('/net/stat/nf_conntrack'));
  assert.deepEqual(new Set(statReads), new Set([r.t.paths.statFile('self'), r.t.paths.statFile('30618'), r.t.paths.statFile('30620')]));
  assert.equal(statReads.length, 9);
  assert.deepEqual(r.triggers, []);
  const v = r.watch.view()!;
  assert.deepEqual(
    [v.focus?.ns, v.focus?.entries, v.filling, v.atMs],
    [{ key: NS_B, inode: 4026532371, pid: 30620, host: false, podUid: '5d2c7e44-1b9a-4f0e-8c3d-6a7b8c9d0e1f' }, 12, false, T0 + 4000],
  );
});

test("drops rising in a pod's namespace ask for a pass at the next tick", async () => {
  const r = await rig();
  r.watch.rebase(r.census, SETTINGS);
  await r.tick();
  r.t.kernel.set(r.t.paths.statFile('30620'), statFileWith(12, 4));
  await r.tick();
  assert.deepEqual(r.triggers, [{ atS: 2, why: ['drops'] }]);
  await r.tick();
  assert.equal(r.triggers.length, 1, 'the same counter again asks nothing');
});

test('a process in a namespace no census has seen: watched from the next tick, and a pass asked for', async () => {
  const r = await rig();
  await r.tick();
  r.watch.rebase(r.census, SETTINGS);
  // A new pod: its sandbox process, its own net/stat (a new inode), 3 entries.
  r.t.kernel.set(r.t.paths.statFile('40000'), statFileWith(3)).setInode(r.t.paths.netStat('40000'), 4026599999);
  r.stats.length = 0;
  await r.tick();
  assert.deepEqual(r.stats, [r.t.paths.netStat('40000')], 'only the new pid is looked at');
  assert.deepEqual(r.triggers, [{ atS: 2, why: ['new-namespace'] }]);
  assert.ok(r.reads.includes(r.t.paths.statFile('40000')), 'read in the same tick');
  // A census taken before it appeared does not make the watch forget it.
  r.watch.rebase(r.census, SETTINGS);
  assert.deepEqual(r.triggers, [
    { atS: 2, why: ['new-namespace'] },
    { atS: 2, why: ['new-namespace'] },
  ]);
  await r.tick();
  assert.equal(r.triggers.length, 2, 'watched again: not new at the next tick');
});

test('a pod namespace ramping at 500/s towards 8,192: FillingUp turns on and, where autoSize can grow, a forecast asks for a pass, at most every 5 s', async () => {
  const fillingAt: Record<string, number> = {};
  for (const canGrow of [false, true]) {
    const r = await rig();
    r.watch.rebase(r.census, { ...SETTINGS, canGrow });
    for (let s = 0; s < 20; s++) await r.tick(); // 20 s of history at 7 entries
    for (let s = 1; s <= 14; s++) {
      r.t.kernel.set(r.t.paths.statFile('30618'), statFileWith(7 + 500 * s));
      await r.tick();
    }
    const v = r.watch.view()!;
    assert.deepEqual([v.focus?.ns.key, v.filling], [NS_A, true]);
    // Full at 8,192: (8,192 - 7,007) / 500 = 2.37 s after the last sample.
    assert.ok(Math.abs(v.focus!.forecast!.secondsToFull! - 2.37) < 0.05, `${v.focus!.forecast!.secondsToFull}`);
    const when = (why: WatchTrigger) => r.triggers.filter((x) => x.why.includes(why)).map((x) => x.atS);
    assert.equal(when('filling-up').length, 1, 'FillingUp turns on once');
    fillingAt[String(canGrow)] = when('filling-up')[0]!;
    const forecasts = when('forecast');
    if (!canGrow) assert.deepEqual(forecasts, [], 'autoSize could not grow: the forecast alone asks nothing');
    else {
      assert.ok(forecasts.length >= 2 && forecasts[0]! <= when('filling-up')[0]!, `${forecasts}`);
      assert.ok(
        forecasts.every((t, i) => i === 0 || t - forecasts[i - 1]! >= 5),
        `${forecasts}`,
      );
      assert.equal(forecasts[0], fillingAt.true, 'the pass that acts on the forecast has FillingUp on');
    }
  }
  // Without autoSize FillingUp waits for a second sample within the horizon; with it, the first one that autoSize acts on.
  assert.equal(fillingAt.false! - fillingAt.true!, 1, JSON.stringify(fillingAt));
});

test('without the slab (not root), every namespace is read every sweepMs; between sweeps, the hot ones (ours, the host, the nearest to full)', async () => {
  const r = await rig({ hotNamespaces: 1, sweepMs: 5000 });
  r.t.kernel.set(r.t.paths.slabinfo(), { content: '', refuseRead: 'EACCES' });
  r.watch.rebase(r.census, SETTINGS);
  for (let s = 0; s < 10; s++) await r.tick();
  const count = (pid: string) => r.reads.filter((p) => p === r.t.paths.statFile(pid)).length;
  // Ticks at 1..10 s: sweeps at 1 s and 6 s; NS_B (12 entries) is the one nearest to full, NS_A (7) waits for the sweep.
  assert.deepEqual([count('self'), count('30620'), count('30618')], [10, 10, 2]);
});

test("the process a namespace is read through exits: another of the namespace's is read; a namespace left with none is dropped", async () => {
  const r = await rig();
  await r.tick();
  r.watch.rebase(r.census, SETTINGS);
  const exit = (pid: string) => {
    for (const p of [...r.t.kernel.files.keys()]) if (p.startsWith(`${r.t.paths.proc(pid)}/`)) r.t.kernel.files.delete(p);
    r.t.kernel.links.delete(r.t.paths.netns(pid));
  };
  exit('30618');
  await r.tick(); // 30618 found gone, 30619 read from the next tick
  await r.tick();
  assert.ok(r.reads.includes(r.t.paths.statFile('30619')));
  exit('30620');
  exit('30621');
  await r.tick();
  await r.tick();
  assert.equal(r.watch.view()!.focus?.ns.key, NS_A, 'NS_B is gone');
  assert.deepEqual(r.triggers, [], 'nothing new, nothing dropping');
});

test('the proc root is listed when the process count changed, and every listMs however quiet', async () => {
  const r = await rig({ listMs: 5000 });
  r.watch.rebase(r.census, SETTINGS);
  for (let s = 1; s <= 7; s++) await r.tick();
  assert.equal(r.lists.length, 2, 'at 1 s (first look) and 6 s (listMs)');
  r.t.kernel.set(r.t.paths.statFile('40000'), statFileWith(3)).setInode(r.t.paths.netStat('40000'), 4026599999);
  await r.tick();
  assert.equal(r.lists.length, 3, 'a process more: listed at once');
  assert.deepEqual(r.triggers.at(-1)?.why, ['new-namespace']);
});

test('the slab growing more than the namespaces read every tick explain: every namespace is read at once', async () => {
  const r = await rig({ hotNamespaces: 1, slabMs: 2000 });
  r.watch.rebase(r.census, SETTINGS);
  const readsOfA = () => r.reads.filter((p) => p === r.t.paths.statFile('30618')).length;
  for (let s = 0; s < 6; s++) await r.tick();
  assert.equal(readsOfA(), 0, 'NS_A (7 entries, flat) is not hot: its census figures stand');
  // NS_A climbs by 3,000 entries; only the slab (every namespace's objects) shows it.
  r.t.kernel.set(r.t.paths.statFile('30618'), statFileWith(3007));
  const slab = await r.t.kernel.read(r.t.paths.slabinfo());
  r.t.kernel.set(r.t.paths.slabinfo(), slab.replace(/^(nf_conntrack +)250032 +250032/m, '$1253032 253032'));
  await r.tick(); // 7 s: the slab, read every 2 s since 1 s, says so
  assert.equal(readsOfA(), 1, 'read within one slab period');
  await r.tick();
  assert.equal(readsOfA(), 2, 'and now every tick: projected nearest to full');
});

test("our namespace crossing the pressure response's start, then its stop threshold, asks for a pass each time; a pod's does not", async () => {
  const r = await rig();
  const thresholds = { startPercent: 80, stopPercent: 60 };
  const inactive = { active: false, sinceMs: null, thresholds, timeouts: {}, enforced: true };
  r.watch.rebase(r.census, { ...SETTINGS, pressureResponse: inactive });
  await r.tick();
  // A pod's namespace at 90% asks nothing (its timeouts are its own); ours at 79% of 8,192 neither; at 80% (6,554) it asks.
  r.t.kernel.set(r.t.paths.statFile('30618'), statFileWith(7373));
  r.t.kernel.set(r.t.paths.statFile('self'), statFileWith(6471));
  await r.tick();
  assert.equal(r.triggers.length, 0, 'below the start, and a pod namespace above it');
  r.t.kernel.set(r.t.paths.statFile('self'), statFileWith(6554));
  await r.tick();
  assert.deepEqual(r.triggers, [{ atS: 3, why: ['pressure-response'] }]);
  // The pass started it; below 60% (4,915) it asks again to end it, not before.
  r.watch.rebase(r.census, { ...SETTINGS, pressureResponse: { ...inactive, active: true, timeouts: { nf_conntrack_tcp_timeout_time_wait: 10 } } });
  r.t.kernel.set(r.t.paths.statFile('self'), statFileWith(5000));
  await r.tick();
  r.t.kernel.set(r.t.paths.statFile('self'), statFileWith(4900));
  for (let s = 0; s < 6; s++) await r.tick();
  assert.deepEqual(
    r.triggers.map((x) => x.atS),
    [3, 5, 10],
    'at 4,900 (59.8%): at once, then at most every 5 s while no pass ends it',
  );
});

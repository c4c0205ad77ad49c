// Root only: the readers against the real kernel, in a namespace this test
// creates and fills with a known mix, compared with conntrack-tools' own view
// of the same namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { execInOk, holdEstablished, makeTimeWait, makeUdpEcho, makeUdpFlows, realKernelSkipReason, setNetnsSysctl, withNetns } from '../support/netns.js';
import type { HostSnapshot } from '../../src/kernel/snapshot.js';
import type { TableSummary } from '../../src/kernel/table-summary.js';

const PROBE = fileURLToPath(new URL('../support/netns-probe.ts', import.meta.url));
const skip = realKernelSkipReason();

interface Probe {
  snapshot: HostSnapshot;
  source: string;
  summary: TableSummary;
  parsed: number;
  malformed: number;
}

async function probe(ns: string, args: string[] = []): Promise<Probe> {
  return JSON.parse(await execInOk(ns, process.execPath, ['--import', 'tsx', PROBE, ...args], { timeoutMs: 30_000 })) as Probe;
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The field notes' way: conntrack -L | awk, per protocol ($1) and per TCP state ($4). */
function awkCounts(listing: string): { byProtocol: Record<string, number>; tcpStates: Record<string, number>; total: number } {
  const rows = listing
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/));
  return { byProtocol: countBy(rows.map((r) => r[0]!)), tcpStates: countBy(rows.filter((r) => r[0] === 'tcp').map((r) => r[3]!)), total: rows.length };
}

/** conntrack -S summed over CPUs with its own key names. */
function sumS(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/(\w+)=(\d+)/g)) if (m[1] !== 'cpu') out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  return out;
}

test('real kernel: stream + summary match conntrack -L and conntrack -S in the same namespace', { skip, timeout: 120_000 }, async () => {
  await withNetns('reader', async (ns) => {
    // Long enough that nothing expires between our read and conntrack's.
    for (const key of ['nf_conntrack_udp_timeout', 'nf_conntrack_udp_timeout_stream', 'nf_conntrack_tcp_timeout_time_wait']) await setNetnsSysctl(ns, key, 600);
    await makeUdpFlows(ns, 40);
    await makeUdpEcho(ns, 5);
    await makeUdpEcho(ns, 3, true);
    await makeTimeWait(ns, 30);
    const held = await holdEstablished(ns, 3);
    try {
      const fromFile = await probe(ns);
      const fromCommand = await probe(ns, ['--no-file']);
      const listing = await execInOk(ns, 'conntrack', ['-L']);
      const statsS = await execInOk(ns, 'conntrack', ['-S']);
      const want = awkCounts(listing);

      assert.equal(fromFile.source, 'file');
      assert.equal(fromCommand.source, 'conntrack -L');
      for (const got of [fromFile, fromCommand]) {
        assert.equal(got.malformed, 0);
        assert.equal(got.summary.total, want.total);
        assert.deepEqual(got.summary.byProtocol, want.byProtocol);
        assert.deepEqual(got.summary.tcpStates, want.tcpStates);
      }
      // The mix we made (plus the 3 held connections' entries): at least these many.
      assert.ok((want.byProtocol.udp ?? 0) >= 48, `udp ${want.byProtocol.udp}`);
      assert.ok((want.tcpStates.TIME_WAIT ?? 0) >= 30 && want.tcpStates.ESTABLISHED === 3, JSON.stringify(want.tcpStates));
      assert.equal(fromFile.summary.loopback.share, 1);

      const snap = fromFile.snapshot;
      assert.equal(snap.moduleLoaded, true);
      assert.equal(snap.table.count, want.total);
      assert.equal(snap.stats.source, 'stat-file');
      assert.equal(snap.stats.entries, want.total);
      assert.equal(snap.netns.host === true, false, 'a test namespace is not the host namespace');
      const s = sumS(statsS);
      const c = snap.stats.counters!;
      assert.deepEqual(
        [c.drop, c.earlyDrop, c.insertFailed, c.invalid, c.searchRestart, c.found, c.insert, c.icmpError, c.clashResolve, c.chainTooLong],
        [s.drop, s.early_drop, s.insert_failed, s.invalid, s.search_restart, s.found, s.insert, s.error, s.clash_resolve, s.chaintoolong],
      );
    } finally {
      await held.close();
    }
  });
});

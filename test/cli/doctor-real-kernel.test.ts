// `doctor --json` on the real kernel, inside a namespace this test fills with a
// known mix: its counts must equal what conntrack -L and conntrack -S say in
// the same namespace. And without root it still reports, naming what needs root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { execInOk, makeTimeWait, makeUdpFlows, realKernelSkipReason, setNetnsSysctl, withNetns } from '../support/netns.js';
import { runCli } from './cli-support.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl']);

/** What the field notes' awk pipeline computes: entries by L4 protocol and by TCP state. */
function countListing(text: string): { byProtocol: Record<string, number>; tcpStates: Record<string, number> } {
  const byProtocol: Record<string, number> = {};
  const tcpStates: Record<string, number> = {};
  for (const line of text.split('\n').filter((l) => /^ipv[46] /.test(l))) {
    const f = line.split(/\s+/);
    byProtocol[f[2]!] = (byProtocol[f[2]!] ?? 0) + 1;
    if (f[2] === 'tcp') tcpStates[f[5]!] = (tcpStates[f[5]!] ?? 0) + 1;
  }
  return { byProtocol, tcpStates };
}

function sumStats(text: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const m of text.matchAll(/\b(drop|early_drop|insert_failed|invalid|search_restart)=(\d+)/g)) sums[m[1]!] = (sums[m[1]!] ?? 0) + Number(m[2]);
  return sums;
}

test('doctor --json in a namespace agrees with conntrack -L and conntrack -S', { skip, timeout: 120_000 }, async () => {
  await withNetns('doctor', async (ns) => {
    await setNetnsSysctl(ns, 'nf_conntrack_udp_timeout', 300);
    await setNetnsSysctl(ns, 'nf_conntrack_tcp_timeout_time_wait', 300);
    await makeUdpFlows(ns, 150);
    await makeTimeWait(ns, 60);
    const r = await runCli(['doctor', '--json', '--top', '5'], { prefix: ['ip', 'netns', 'exec', ns] });
    const listing = countListing(await execInOk(ns, 'conntrack', ['-L', '-o', 'extended']));
    const stats = sumStats(await execInOk(ns, 'conntrack', ['-S']));
    assert.ok(r.code === 0 || r.code === 2, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.breakdown.byProtocol, listing.byProtocol);
    assert.deepEqual(report.breakdown.tcpStates, listing.tcpStates);
    assert.ok(report.breakdown.byProtocol.udp >= 150 && report.breakdown.tcpStates.TIME_WAIT >= 60, JSON.stringify(report.breakdown.byProtocol));
    assert.equal(report.table.count, report.breakdown.total);
    assert.equal(report.counters.drop, stats['drop']);
    assert.equal(report.counters.earlyDrop, stats['early_drop']);
    assert.equal(report.counters.insertFailed, stats['insert_failed']);
    assert.equal(report.counters.invalid, stats['invalid']);
    assert.equal(report.kernel.hostNetworkNamespace, false);
    assert.ok(report.findings.some((f: { id: string }) => f.id === 'not-host-netns'));
    // 150 UDP flows to distinct 127.x addresses from one source: the top source holds them all.
    assert.equal(report.breakdown.topSources[0].address, '127.0.0.1');
    assert.ok(report.breakdown.loopback.share > 0.99);
    assert.ok(report.findings.some((f: { id: string }) => f.id === 'loopback-heavy'));
  });
});

const nobody =
  spawnSync('sh', ['-c', 'command -v setpriv']).status === 0 && process.geteuid?.() === 0
    ? undefined
    : 'needs root and setpriv to drop to an unprivileged user';

test('doctor without root: reports what it could read, names what needs root, no stack trace', { skip: nobody, timeout: 60_000 }, async () => {
  const r = await runCli(['doctor'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] });
  assert.ok(r.code === 0 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  assert.match(r.stdout, /TABLE AND PRESSURE/);
  assert.match(r.stdout, /NOT READ\n(.*run as root\n?)+/);
  assert.match(r.stdout, /slabinfo.*run as root/);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .*\(/);
});

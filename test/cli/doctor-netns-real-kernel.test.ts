// The namespace census on the real kernel: three namespaces this test creates,
// each with a sleeping process in it and 1,000 / 2,000 / 3,000 UDP entries.
// `doctor --json` from the host namespace must report each namespace's entries
// exactly as `conntrack -C` counts them inside it, and a node-wide total the
// slab's active objects bound. Then the same from a hostPath-style mount of
// /proc (a pod's --proc-root /host/proc), in a private mount namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execInOk, makeUdpFlows, realKernelSkipReason, setNetnsSysctl, withNetns } from '../support/netns.js';
import { sleeperIn } from '../support/netns-process.js';
import { runCli } from './cli-support.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl', 'unshare', 'mount']);
const FLOWS = [1000, 2000, 3000];

interface NetnsJson {
  inode: number;
  entries: number | null;
  host: boolean;
}

async function count(ns: string): Promise<number> {
  return Number((await execInOk(ns, 'conntrack', ['-C'])).trim());
}

async function doctorJson(
  top: number,
  prefix?: string[],
  extra: string[] = [],
): Promise<{ nodeWide: { entries: number; namespaces: number; slab: { activeObjects: number } | null }; netns: NetnsJson[] }> {
  const r = await runCli(['doctor', '--json', '--no-table', '--top', String(top), ...extra], { prefix });
  assert.ok(r.code === 0 || r.code === 2, `exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test("doctor from the host namespace: each namespace's entries as conntrack -C inside it; the total within the slab", { skip, timeout: 300_000 }, async () => {
  const sleepers: ChildProcess[] = [];
  const hostProc = mkdtempSync(join(tmpdir(), 'ctop-i13-host-proc-'));
  try {
    await withNetns('i13-a', (a) =>
      withNetns('i13-b', (b) =>
        withNetns('i13-c', async (c) => {
          const names = [a, b, c];
          const inodes: number[] = [];
          for (const [i, ns] of names.entries()) {
            await setNetnsSysctl(ns, 'nf_conntrack_udp_timeout', 600); // the entries outlive the test
            const s = await sleeperIn(ns);
            sleepers.push(s.child);
            inodes.push(s.inode);
            await makeUdpFlows(ns, FLOWS[i]!);
          }
          const before = await Promise.all(names.map(count));
          assert.deepEqual(before, FLOWS, 'each namespace holds exactly its UDP flows');

          const report = await doctorJson(1000);
          const after = await Promise.all(names.map(count));
          assert.deepEqual(after, before, 'the counts did not move while doctor ran');
          for (const [i, inode] of inodes.entries()) {
            const row = report.netns.find((e) => e.inode === inode);
            assert.ok(row, `netns ${inode} (${names[i]}) is listed`);
            assert.equal(row.entries, before[i], `netns ${inode} (${names[i]})`);
            assert.equal(row.host, false);
          }
          assert.equal(report.netns.filter((e) => e.host).length, 1, 'the host namespace is one row among them');
          const listed = report.netns.reduce((sum, e) => sum + (e.entries ?? 0), 0);
          assert.equal(report.nodeWide.entries, listed, '--top 1000 lists every namespace: the total is their sum');
          assert.ok(report.nodeWide.entries >= FLOWS[0]! + FLOWS[1]! + FLOWS[2]!);
          assert.ok(report.nodeWide.slab, 'root reads /proc/slabinfo');
          assert.ok(
            report.nodeWide.entries <= report.nodeWide.slab.activeObjects,
            `node-wide ${report.nodeWide.entries} entries within ${report.nodeWide.slab.activeObjects} active slab objects`,
          );

          // A pod with hostNetwork reading the host's /proc through a hostPath mount: the same figures.
          const viaMount = await doctorJson(
            1000,
            ['unshare', '--mount', '--propagation', 'private', 'sh', '-ec', `mount --bind /proc ${hostProc} && exec "$@"`, 'sh'],
            ['--proc-root', hostProc],
          );
          for (const [i, inode] of inodes.entries()) assert.equal(viaMount.netns.find((e) => e.inode === inode)?.entries, before[i]);

          const top = await doctorJson(2);
          assert.equal(top.netns.length, 2, '--top bounds the list');
          assert.deepEqual(
            top.netns.map((e) => e.entries),
            [...top.netns.map((e) => e.entries)].sort((x, y) => (y ?? 0) - (x ?? 0)),
          );
        }),
      ),
    );
  } finally {
    for (const s of sleepers) s.kill();
    rmdirSync(hostProc);
  }
});

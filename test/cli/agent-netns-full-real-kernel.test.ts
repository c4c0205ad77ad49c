// Root only, real kernel: the standalone agent runs in the host namespace
// (--dry-run: it writes nothing), a namespace this test creates is driven to
// its limit (the global max lowered for a few seconds, then restored),
// and the agent's status names that namespace as full, with the Node event the
// cluster reporter sends for it. The host's own count never shows this table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventsForPass } from '../../src/report/node-events.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { execInOk, realKernelSkipReason, setNetnsSysctl, withNetns } from '../support/netns.js';
import { sleeperIn } from '../support/netns-process.js';
import { until } from '../support/until.js';
import { withLoweredMax } from '../support/lowered-max.js';
import { standaloneArgs, startAgent, type RunningAgent, ERROR_LINE, stopAgentRun } from './cli-support.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl']);
const FILL = fileURLToPath(new URL('../kube-e2e/fill-table.ts', import.meta.url));
const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: i13-netns-full}
spec:
  mode: DryRun
  timeouts: {tcp: {establishedSeconds: 600}}
`;

async function status(file: string): Promise<NodeStatusDoc | undefined> {
  try {
    return (JSON.parse(await readFile(file, 'utf8')) as { status: NodeStatusDoc }).status;
  } catch {
    return undefined; // not written yet, or being replaced
  }
}

test(
  'a namespace driven to its limit: the agent in the host namespace reports it full, naming it, and the Node event says so',
  { skip, timeout: 180_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ctop-i13-agent-'));
    const statusFile = join(dir, 'status.json');
    await writeFile(join(dir, 'policy.yaml'), POLICY);
    let agent: RunningAgent | null = null;
    let log = '';
    let sleeper: ChildProcess | null = null;
    try {
      await withNetns('i13-full', async (ns) => {
        const s = await sleeperIn(ns);
        sleeper = s.child;
        await setNetnsSysctl(ns, 'nf_conntrack_tcp_timeout_time_wait', 600);
        // In the host's namespace: it sees the test namespace through the census.
        agent = startAgent([...standaloneArgs(dir), '--interval', '1s', '--dry-run', '--metrics-addr', '127.0.0.1:19813']);
        // A first pass records every namespace's drop counter (ours among them: it has a process already).
        const before = await until(
          'the agent reports the namespaces',
          async () => {
            const st = await status(statusFile);
            return st?.namespaces ? st : undefined;
          },
          60_000,
        );
        assert.ok(before.namespaces, 'status.namespaces is written');
        assert.deepEqual(before.namespaces.full, []);

        await withLoweredMax(async (fullMax) => {
          // "Full" is the pass that saw the drops rise: it may come and go while the
          // fill still runs, so the status is watched from before the fill starts.
          const watched = until(
            'status names the namespace as full',
            async () => {
              const st = await status(statusFile);
              return st?.namespaces?.full.some((r) => r.inode === s.inode) ? st : undefined;
            },
            80_000,
          );
          const fill = JSON.parse(await execInOk(ns, process.execPath, ['--import', 'tsx', FILL, String(fullMax * 3)], { timeoutMs: 60_000 })) as {
            completed: number;
            failed: number;
          };
          assert.ok(fill.failed >= 10, `the table filled: ${JSON.stringify(fill)}`);
          const full = await watched;
          const row = full.namespaces!.full.find((r) => r.inode === s.inode)!;
          assert.ok(row.dropsRising! > 0);
          assert.ok(row.entries! >= fullMax - 10, `its own count is at the limit: ${row.entries} of ${fullMax}`);
          const event = eventsForPass(before, full, { kind: 'no-policy' }).find(
            (e) => e.reason === 'ConntrackTableFull' && e.message.includes(String(s.inode)),
          );
          assert.ok(event, 'a ConntrackTableFull event names the namespace');
          assert.match(event.message, new RegExp(`^Connection tracking table FULL in network namespace ${s.inode} on `));
          // The host's own table did not fill: its condition stays False while the namespace drops.
          assert.ok((full.table?.count ?? 0) < fullMax);
          assert.ok(full.findings?.some((f) => f.id === 'netns-usage-critical' && f.message.includes(String(s.inode))));
        });
      });
    } finally {
      log = await stopAgentRun(agent as RunningAgent | null, sleeper as ChildProcess | null, dir);
    }
    assert.doesNotMatch(log, ERROR_LINE, log);
  },
);

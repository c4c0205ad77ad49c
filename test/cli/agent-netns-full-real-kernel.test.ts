// Root only, real kernel: the standalone agent runs in the host namespace
// (--dry-run: it writes nothing), a namespace this test creates is driven to
// its limit (the global max lowered for a few seconds, then restored),
// and the agent's status names that namespace as full, with the Node event the
// cluster reporter sends for it. The host's own count never shows this table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { eventsForPass } from '../../src/report/node-events.js';
import { execInOk, realKernelSkipReason, setNetnsSysctl } from '../support/netns.js';
import { withLoweredMax } from '../support/lowered-max.js';
import { ERROR_LINE } from './cli-support.js';
import { withAgent } from './agent-run.js';
import type { FillResult } from '../kube-e2e/fill-table.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl']);
const FILL = fileURLToPath(new URL('../kube-e2e/fill-table.ts', import.meta.url));
const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: i13-netns-full}
spec:
  mode: DryRun
  timeouts: {tcp: {establishedSeconds: 600}}
`;

test(
  'a namespace driven to its limit: the agent in the host namespace reports it full, naming it, and the Node event says so',
  { skip, timeout: 180_000 },
  async () => {
    const log = await withAgent('i13-full', POLICY, async (run) => {
      const { ns } = run;
      const s = await run.pod();
      await setNetnsSysctl(ns, 'nf_conntrack_tcp_timeout_time_wait', 600);
      // In the host's namespace: it sees the test namespace through the census.
      run.start(['--interval', '1s', '--dry-run', '--metrics-addr', '127.0.0.1:19813'], { inHost: true });
      // A first pass records every namespace's drop counter (ours among them: it has a process already).
      const before = await run.statusWhen('the agent reports the namespaces', (st) => Boolean(st.namespaces), 60_000);
      assert.ok(before.namespaces, 'status.namespaces is written');
      assert.deepEqual(before.namespaces.full, []);

      await withLoweredMax(async (fullMax) => {
        // "Full" is the pass that saw the drops rise: it may come and go while the
        // fill still runs, so the status is watched from before the fill starts.
        const watched = run.statusWhen('status names the namespace as full', (st) => st.namespaces?.full.some((r) => r.inode === s.inode) === true, 80_000);
        const fill = JSON.parse(await execInOk(ns, process.execPath, ['--import', 'tsx', FILL, String(fullMax * 3)], { timeoutMs: 60_000 })) as FillResult;
        console.log(`# fill: ${JSON.stringify(fill)}, max ${fullMax}`);
        assert.ok(fill.dropped >= 10, `the kernel dropped for a full table: ${JSON.stringify(fill)}`);
        const full = await watched;
        const row = full.namespaces!.full.find((r) => r.inode === s.inode)!;
        assert.ok(row.dropsRising! > 0);
        assert.ok(row.entries! >= fullMax - 10, `its own count is at the limit: ${row.entries} of ${fullMax}`);
        const event = eventsForPass(before, full, { kind: 'no-policy' }).find((e) => e.reason === 'ConntrackTableFull' && e.message.includes(String(s.inode)));
        assert.ok(event, 'a ConntrackTableFull event names the namespace');
        assert.match(event.message, new RegExp(`^Connection tracking table FULL in network namespace ${s.inode} on `));
        // The host's own table did not fill: its condition stays False while the namespace drops.
        assert.ok((full.table?.count ?? 0) < fullMax);
        assert.ok(full.findings?.some((f) => f.id === 'netns-usage-critical' && f.message.includes(String(s.inode))));
      });
    });
    assert.doesNotMatch(log, ERROR_LINE, log);
  },
);

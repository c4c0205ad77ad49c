// Root only, real kernel: the standalone agent in the host namespace with
// autoSize {memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: 8192}
// sizes the global table (max and buckets saved and restored under the
// shared lock) while a test namespace with a process in it (the "pod") takes
// held-open TCP connections to 127.0.0.1, which the kernel cannot evict:
// - a ramp of 500 new connections a second: max grows before the table
//   as it was would have been full, and not one packet is dropped;
// - a burst of twice the table at once: max has grown within 2 s of the
//   first drop, and the agent says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { parseStatFile } from '../../src/kernel/stats.js';
import { holdTraffic, realKernelSkipReason } from '../support/netns.js';
import { until } from '../support/until.js';
import { withGlobalTable } from '../support/lowered-max.js';
import { type RunningAgent, ERROR_LINE } from './cli-support.js';
import { withAgent } from './agent-run.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl']);
const MAX_PATH = '/proc/sys/net/netfilter/nf_conntrack_max';
const TABLE = 8192;
const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: grow-ahead}
spec:
  table:
    autoSize: {memoryBudgetPercent: 2, targetUsagePercent: 50, minMax: ${TABLE}}
`;

const readMax = async () => Number((await readFile(MAX_PATH, 'utf8')).trim());

/** The pod namespace's own figures, through its process. */
async function podTable(pid: number): Promise<{ entries: number; drop: number; earlyDrop: number }> {
  const s = parseStatFile(await readFile(`/proc/${pid}/net/stat/nf_conntrack`, 'utf8'));
  return { entries: s.entries ?? 0, drop: s.counters?.drop ?? 0, earlyDrop: s.counters?.earlyDrop ?? 0 };
}

interface Sample {
  atMs: number;
  max: number;
  entries: number;
  drop: number;
}

/** Every 50 ms until stopped: max and the pod's figures. */
function sampler(pid: number): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const [max, t] = await Promise.all([readMax(), podTable(pid)]);
      samples.push({ atMs: Date.now(), max, entries: t.entries, drop: t.drop });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    samples,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** The agent (Enforce, autoSize) in the host namespace with a "pod" namespace beside it, the global table at 8,192; both restored after. */
async function withAgentAndPod(tag: string, metricsPort: number, fn: (pod: { ns: string; pid: number }, agent: RunningAgent) => Promise<void>): Promise<void> {
  const log = await withGlobalTable(() =>
    withAgent(tag, POLICY, async (run) => {
      await writeFile(MAX_PATH, String(TABLE));
      const { pid } = await run.pod();
      const agent = run.start(['--metrics-addr', `127.0.0.1:${metricsPort}`], { inHost: true });
      await until(
        'the agent has applied the policy',
        async () => (/"policy applied"|the node matches the policy/.test(agent.log()) ? true : undefined),
        60_000,
      );
      await fn({ ns: run.ns, pid }, agent);
    }),
  );
  assert.doesNotMatch(log, ERROR_LINE, log);
}

test(
  'a ramp of 500 connections/s in a pod namespace: autoSize grows max before the table would have been full, and not one packet is dropped',
  { skip, timeout: 120_000 },
  async () => {
    await withAgentAndPod('grow-ramp', 19831, async ({ ns, pid }, agent) => {
      const server = await holdTraffic(ns, ['serve-tcp', '90']);
      const before = await podTable(pid);
      const maxBefore = await readMax();
      const watch = sampler(pid);
      // 11,000 connections at 500/s: 22 s, where 8,192 would be full after about 16 s.
      const ramp = await holdTraffic(ns, ['tcp-ramp', server.ready, '500', '22', '30']);
      const start = Date.now();
      try {
        await until('the ramp has opened its connections', async () => ((await podTable(pid)).entries >= before.entries + 10_900 ? true : undefined), 45_000);
      } finally {
        const result = await ramp.close();
        await server.close();
        await watch.stop();
        assert.ok((result.failed as number) === 0, `connections failed: ${JSON.stringify(result)}`);
      }
      const after = await podTable(pid);
      assert.equal(after.drop - before.drop, 0, 'no packet dropped in the pod namespace');
      const grown = watch.samples.find((s) => s.max > maxBefore);
      assert.ok(grown, `max never grew: ${maxBefore}`);
      // When the table as it was would have been full at 500/s, and where the ramp really was when it grew.
      const staticFullS = (maxBefore - before.entries) / 500;
      const grownS = (grown.atMs - start) / 1000;
      assert.ok(grownS < staticFullS, `grown after ${grownS.toFixed(1)} s at ${grown.entries} entries; full at ${staticFullS.toFixed(1)} s`);
      assert.ok(grown.entries < maxBefore, `grown before the count reached ${maxBefore}: ${grown.entries}`);
      assert.match(agent.log(), /"msg":"growing nf_conntrack_max ahead of a full table"/);
      process.stdout.write(
        `# ramp: max ${maxBefore} -> ${grown.max} at ${grownS.toFixed(1)} s (${grown.entries} entries), full at ${staticFullS.toFixed(1)} s; max at the end ${await readMax()}\n`,
      );
    });
  },
);

test(
  'a burst of twice the table at once in a pod namespace: max has grown within 2 s of the first drop, and the agent says so',
  { skip, timeout: 120_000 },
  async () => {
    await withAgentAndPod('grow-step', 19832, async ({ ns, pid }, agent) => {
      const server = await holdTraffic(ns, ['serve-tcp', '60']);
      const before = await podTable(pid);
      const maxBefore = await readMax();
      const watch = sampler(pid);
      const burst = await holdTraffic(ns, ['tcp-burst', server.ready, String(2 * maxBefore), '30']);
      try {
        await until('max has grown', async () => ((await readMax()) > maxBefore ? true : undefined), 20_000);
        await until('ten samples after it', async () => (watch.samples.filter((s) => s.max > maxBefore).length >= 10 ? true : undefined), 5_000);
      } finally {
        await burst.close();
        await server.close();
        await watch.stop();
      }
      const firstDrop = watch.samples.find((s) => s.drop > before.drop);
      const grown = watch.samples.find((s) => s.max > maxBefore)!;
      assert.ok(grown, 'max grew');
      if (firstDrop) {
        const lagS = (grown.atMs - firstDrop.atMs) / 1000;
        assert.ok(lagS <= 2, `grown ${lagS.toFixed(2)} s after the first drop`);
        process.stdout.write(`# step: first drop, then max ${maxBefore} -> ${grown.max} ${lagS.toFixed(2)} s later\n`);
      } else process.stdout.write(`# step: max ${maxBefore} -> ${grown.max} before any drop\n`);
      assert.match(agent.log(), /"msg":"growing nf_conntrack_max(: a namespace is dropping new connections for a full table| ahead of a full table)"/);
    });
  },
);

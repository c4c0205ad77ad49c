// The standalone agent end to end on the real kernel, inside a network
// namespace this test creates: it applies a policy (timeouts + NOTRACK), an
// outside write shows as drift and is corrected, SIGTERM stops it cleanly, and
// `restore` afterwards gives back the exact baseline and raw table; a value
// or rule no Enforce policy asks for any more is given back while it runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { connectTimes, execInOk, realKernelSkipReason, trackedTo } from '../support/netns.js';
import { until } from '../support/until.js';
import { runCli } from './cli-support.js';
import { appliedTrue, withAgent } from './agent-run.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'iptables-nft-save', 'iptables-nft-restore']);
const TIMEOUTS = ['nf_conntrack_tcp_timeout_established', 'nf_conntrack_tcp_timeout_time_wait', 'nf_conntrack_udp_timeout'];
const UNTRACKED_PORT = 18080;
const TRACKED_PORT = 18081;

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: e2e}
spec:
  mode: Enforce
  timeouts:
    tcp: {establishedSeconds: 600, timeWaitSeconds: 30}
    udp: {unrepliedSeconds: 15}
  notrack:
    - name: web
      protocol: tcp
      ports: [${UNTRACKED_PORT}]
      # both: on loopback the client's SYN leaves through OUTPUT with --dport,
      # which an inbound-only rule (PREROUTING --dport, OUTPUT --sport) does not untrack.
      direction: both
`;

async function sysctls(ns: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const k of TIMEOUTS) out[k] = Number(await execInOk(ns, 'cat', [`/proc/sys/net/netfilter/${k}`]));
  return out;
}

/** The raw table without packet counters, for before/after comparison. */
async function rawTable(ns: string): Promise<string> {
  const text = await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']);
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
    .join('\n');
}

test('agent applies, corrects drift, stops on SIGTERM, and restore gives the host back', { skip, timeout: 120_000 }, async () => {
  await withAgent('agent', POLICY, async (run) => {
    const { ns, dir } = run;
    const baseline = await sysctls(ns);
    const rawBefore = await rawTable(ns);
    const common = ['--notrack-backend', 'iptables-nft', '--metrics-addr', '127.0.0.1:19753'];

    const agent = run.start(['--interval', '1s', ...common]);
    const status = await run.statusWhen('Applied=True in the status file', appliedTrue);
    assert.equal(status.conditions.find((c) => c.type === 'Drifted')?.status, 'False');
    assert.deepEqual(await sysctls(ns), {
      nf_conntrack_tcp_timeout_established: 600,
      nf_conntrack_tcp_timeout_time_wait: 30,
      nf_conntrack_udp_timeout: 15,
    });
    assert.match(await rawTable(ns), /-A CTOP-NOTRACK-PRE .*--dport(s)? 18080/);

    // NOTRACK is real: connections to the untracked port leave no entries, others do.
    await connectTimes(ns, 5, [UNTRACKED_PORT, TRACKED_PORT]);
    assert.equal(await trackedTo(ns, UNTRACKED_PORT), 0);
    assert.equal(await trackedTo(ns, TRACKED_PORT), 5);

    // Someone else writes a timeout: reported as drift and corrected within an interval or two.
    await execInOk(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=120']);
    const written = Date.now();
    await until('the drift to be corrected', async () => ((await sysctls(ns)).nf_conntrack_tcp_timeout_time_wait === 30 ? true : undefined), 5000);
    const correctedAfterMs = Date.now() - written;
    assert.ok(correctedAfterMs < 3000, `corrected after ${correctedAfterMs} ms`);
    await until(
      'the drift log line',
      async () =>
        /"conntrack settings drifted".*|nf_conntrack_tcp_timeout_time_wait/.test(agent.log()) && agent.log().includes('"actual":120') ? true : undefined,
      3000,
    );

    assert.equal(await run.stop(), 0, agent.log());
    assert.match(agent.log(), /"msg":"agent stopped"/);
    // Still applied after the agent stopped: stopping is not restoring.
    assert.equal((await sysctls(ns)).nf_conntrack_tcp_timeout_established, 600);

    // An agent without a policy source refuses to start (it would do nothing forever)...
    const idle = await runCli(['agent', '--once', '--state-dir', join(dir, 'state'), ...common], { prefix: ['ip', 'netns', 'exec', ns] });
    assert.equal(idle.code, 1);
    assert.match(idle.stderr, /agent needs a policy source: --policy-file FILE .* or --kubernetes/);
    // ...and `restore` puts everything back.
    const r = await runCli(['restore', '--state-dir', join(dir, 'state'), '--notrack-backend', 'iptables-nft'], { prefix: ['ip', 'netns', 'exec', ns] });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /restored \d+ change\(s\)/);
    assert.deepEqual(await sysctls(ns), baseline);
    assert.equal(await rawTable(ns), rawBefore);
  });
});

test('agent --dry-run writes nothing, whatever the policy says', { skip, timeout: 60_000 }, async () => {
  await withAgent('agentdry', POLICY, async ({ ns, dir }) => {
    const before = await sysctls(ns);
    const rawBefore = await rawTable(ns);
    const r = await runCli(
      [
        'agent',
        '--once',
        '--dry-run',
        '--policy-file',
        join(dir, 'policy.yaml'),
        '--state-dir',
        join(dir, 'state'),
        '--notrack-backend',
        'iptables-nft',
        '--metrics-addr',
        '127.0.0.1:19754',
      ],
      { prefix: ['ip', 'netns', 'exec', ns] },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /DryRun: changes not made/);
    assert.deepEqual(await sysctls(ns), before);
    assert.equal(await rawTable(ns), rawBefore);
  });
});

const TRIAL = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: trial}
spec:
  mode: DryRun
  timeouts:
    udp: {streamSeconds: 60}
`;

test(
  'agent gives back what no Enforce policy asks for any more: Enforce -> DryRun, and Enforce deleted beside a DryRun policy',
  { skip, timeout: 120_000 },
  async () => {
    const given = [POLICY, TRIAL].join('---\n');
    await withAgent('giveback', given, async (run) => {
      const { ns } = run;
      const policyFile = join(run.dir, 'policy.yaml');
      const stream = async () => Number(await execInOk(ns, 'cat', ['/proc/sys/net/netfilter/nf_conntrack_udp_timeout_stream']));
      const baseline = await sysctls(ns);
      const streamBefore = await stream();
      const rawBefore = await rawTable(ns);
      const applied = (s: NodeStatusDoc) => s.conditions.find((c) => c.type === 'Applied');
      const agent = run.start(['--interval', '1s', '--notrack-backend', 'iptables-nft', '--metrics-addr', '127.0.0.1:19755']);
      const enforced = { nf_conntrack_tcp_timeout_established: 600, nf_conntrack_tcp_timeout_time_wait: 30, nf_conntrack_udp_timeout: 15 };
      const steps = [
        { name: 'Enforce switched to DryRun', file: [POLICY.replace('mode: Enforce', 'mode: DryRun'), TRIAL].join('---\n') },
        { name: 'Enforce deleted, a DryRun policy still selects the node', file: TRIAL },
      ];
      for (const step of steps) {
        await writeFile(policyFile, given);
        const first = await run.statusWhen(`${step.name}: Enforce applied first`, (s) => applied(s)?.reason === 'Applied');
        assert.deepEqual(await sysctls(ns), enforced, step.name);
        assert.match(await rawTable(ns), /-A CTOP-NOTRACK-PRE .*--dport(s)? 18080/, step.name);
        assert.deepEqual(first.plan, [{ key: 'nf_conntrack_udp_timeout_stream', change: `${streamBefore} -> 60` }], `${step.name}: the DryRun field, planned`);

        await writeFile(policyFile, step.file);
        await until(`${step.name}: the values from before, and no rule of ours`, async () =>
          JSON.stringify(await sysctls(ns)) === JSON.stringify(baseline) && (await rawTable(ns)) === rawBefore ? true : undefined,
        );
        const after = await run.statusWhen(`${step.name}: Applied=DryRun`, (s) => applied(s)?.reason === 'DryRun');
        assert.ok(
          after.plan?.some((p) => p.key === 'nf_conntrack_udp_timeout_stream'),
          `${step.name}: still only planned`,
        );
        assert.equal(after.conditions.find((c) => c.type === 'Drifted')?.status, 'False', step.name);
        assert.equal(await stream(), streamBefore, `${step.name}: the DryRun field was never written`);
      }
      assert.equal(await run.stop(), 0, agent.log());
    });
  },
);

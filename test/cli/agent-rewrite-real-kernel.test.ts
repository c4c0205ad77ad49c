// The standalone agent on the real kernel while its policy file is rewritten
// in place, as editors and config managers do (`cat new > policy.yaml`:
// truncate, then write), made empty, given a typo, or replaced by a FIFO: the
// node is never restored, the NOTRACK chain and the timeouts stay, and the
// agent keeps answering and stops on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execIn, execInOk, realKernelSkipReason } from '../support/netns.js';
import { until } from '../support/until.js';
import { appliedTrue, withAgent } from './agent-run.js';

const skip = realKernelSkipReason(['ip', 'nft', 'iptables-nft-save', 'iptables-nft-restore', 'curl']);
const REWRITES = 10;

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: rewrite}
spec:
  timeouts:
    tcp: {establishedSeconds: 600}
  notrack:
    - {name: loopback, interface: lo}
    - {name: web, protocol: tcp, ports: [18080], direction: inbound}
`;

const ESTABLISHED = '/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established';
const METRICS = 'http://127.0.0.1:19815/metrics';

/** Passes the agent has finished, by its own count (conntrack_operator_reconciles_total over every result). */
async function passesDone(ns: string): Promise<number> {
  const text = await execInOk(ns, 'curl', ['-sf', '--max-time', '5', METRICS]);
  return [...text.matchAll(/^conntrack_operator_reconciles_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

/**
 * Waits until the agent has finished two more passes than it had when called:
 * the second of them started after the call, so it read whatever was there then.
 */
async function twoMorePasses(ns: string, why: string): Promise<void> {
  const from = await passesDone(ns);
  await until(`two passes after ${why}`, async () => ((await passesDone(ns)) >= from + 2 ? true : undefined), 20_000);
}

async function applied(ns: string): Promise<{ established: number; chain: boolean }> {
  const established = Number(await execInOk(ns, 'cat', [ESTABLISHED]));
  const raw = await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']);
  return { established, chain: /-A CTOP-NOTRACK-PRE .*-i lo/.test(raw) };
}

test('in-place rewrites, an empty file, a typo and a FIFO under a running agent: zero restores', { skip, timeout: 120_000 }, async () => {
  await withAgent('i15-rewrite', POLICY, async (run) => {
    const { ns } = run;
    const policyFile = join(run.dir, 'policy.yaml');
    const next = join(run.dir, 'new.yaml');
    await writeFile(next, POLICY);
    const { log } = run.start(['--interval', '1s', '--notrack-backend', 'iptables-nft', '--metrics-addr', '127.0.0.1:19815']);
    await run.statusWhen('Applied=True in the status file', appliedTrue, 60_000);
    const samples: Array<{ established: number; chain: boolean }> = [];
    for (let i = 0; i < REWRITES; i++) {
      execFileSync('sh', ['-c', `cat '${next}' > '${policyFile}'`]);
      samples.push(await applied(ns));
      await twoMorePasses(ns, `rewrite ${i + 1}`);
      samples.push(await applied(ns));
    }
    // Each broken file, and what the agent logs on reading it (the comments-only file is refused
    // like the empty one, and a refusal is logged when it changes: nothing new to wait for).
    for (const [what, content, says] of [
      ['empty', '', 'no ConntrackPolicy document'],
      ['comments only', '# being edited\n', null],
      ['typo', POLICY.replace('interface', 'interfce'), 'interfce: unknown field'],
    ] as const) {
      const before = says === null ? 0 : log().split(says).length;
      await writeFile(policyFile, content);
      if (says !== null) await until(`the ${what} file reported`, async () => (log().split(says).length > before ? true : undefined), 10_000);
      await twoMorePasses(ns, `the ${what} file was written`); // a pass on the broken file
      samples.push(await applied(ns));
    }
    await rm(policyFile);
    execFileSync('mkfifo', [policyFile]);
    await until('the FIFO reported', async () => (/is a FIFO, not a regular file/.test(log()) ? true : undefined), 10_000);
    await twoMorePasses(ns, 'the FIFO was reported');
    samples.push(await applied(ns));
    const health = await execIn(ns, 'curl', ['-sf', '--max-time', '5', 'http://127.0.0.1:19815/healthz']);
    assert.equal(health.code, 0, `healthz with a FIFO at the policy path: ${health.stderr}`);
    assert.match(log(), /is a FIFO, not a regular file/);

    assert.deepEqual(
      samples.filter((s) => s.established !== 600 || !s.chain),
      [],
      'the policy stayed applied at every sample',
    );
    assert.equal(log().match(/restored the original values/g)?.length ?? 0, 0, 'zero restores');
    assert.equal(await run.stop(), 0, log().slice(-2000));
  });
});

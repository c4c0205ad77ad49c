// The standalone agent on the real kernel while its policy file is rewritten
// in place, as editors and config managers do (`cat new > policy.yaml`:
// truncate, then write), made empty, given a typo, or replaced by a FIFO: the
// node is never restored, the NOTRACK chain and the timeouts stay, and the
// agent keeps answering and stops on SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execIn, execInOk, realKernelSkipReason, withNetns } from '../support/netns.js';
import { until } from '../support/until.js';
import { startAgent } from './cli-support.js';

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

async function applied(ns: string): Promise<{ established: number; chain: boolean }> {
  const established = Number(await execInOk(ns, 'cat', [ESTABLISHED]));
  const raw = await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']);
  return { established, chain: /-A CTOP-NOTRACK-PRE .*-i lo/.test(raw) };
}

test('in-place rewrites, an empty file, a typo and a FIFO under a running agent: zero restores', { skip, timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-i15-rewrite-'));
  try {
    await withNetns('i15-rewrite', async (ns) => {
      const policyFile = join(dir, 'policy.yaml');
      const next = join(dir, 'new.yaml');
      const statusFile = join(dir, 'status.json');
      await writeFile(policyFile, POLICY);
      await writeFile(next, POLICY);
      const { child, log, exited } = startAgent(
        [
          '--policy-file',
          policyFile,
          '--status-file',
          statusFile,
          '--interval',
          '1s',
          '--state-dir',
          join(dir, 'state'),
          '--notrack-backend',
          'iptables-nft',
          '--metrics-addr',
          '127.0.0.1:19815',
        ],
        ['ip', 'netns', 'exec', ns],
      );
      try {
        await until(
          'Applied=True in the status file',
          async () => {
            const doc = JSON.parse(await readFile(statusFile, 'utf8').catch(() => '{}')) as {
              status?: { conditions: Array<{ type: string; status: string }> };
            };
            return doc.status?.conditions.some((c) => c.type === 'Applied' && c.status === 'True') ? true : undefined;
          },
          60_000,
        );
        const samples: Array<{ established: number; chain: boolean }> = [];
        for (let i = 0; i < REWRITES; i++) {
          execFileSync('sh', ['-c', `cat '${next}' > '${policyFile}'`]);
          await new Promise((r) => setTimeout(r, 150));
          samples.push(await applied(ns));
          await new Promise((r) => setTimeout(r, 150));
          samples.push(await applied(ns));
        }
        for (const [what, content] of [
          ['empty', ''],
          ['comments only', '# being edited\n'],
          ['typo', POLICY.replace('interface', 'interfce')],
        ] as const) {
          await writeFile(policyFile, content);
          await until(`the ${what} file reported`, async () => (log().includes('the policy file cannot be used') ? true : undefined), 10_000);
          await new Promise((r) => setTimeout(r, 1500)); // a pass or two on the broken file
          samples.push(await applied(ns));
        }
        await rm(policyFile);
        execFileSync('mkfifo', [policyFile]);
        await new Promise((r) => setTimeout(r, 2500));
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
      } finally {
        child.kill('SIGTERM');
      }
      assert.equal(await exited, 0, log().slice(-2000));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

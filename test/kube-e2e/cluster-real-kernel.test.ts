// End to end, root only: the test API server (with KUBEBUILDER_ASSETS a real
// kube-apiserver + etcd), real kubectl and the agent (a real process) all inside
// a network namespace this test makes, on the real kernel.
// kubectl applies the CRDs, the chart's agent ClusterRole and a policy; the
// agent applies it; an outside change shows as drift and an event; a really
// full table raises ConntrackTableFull within 10 s; kubectl delete restores.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dump } from 'js-yaml';
import { renderAgentClusterRole } from '../packaging/agent-rbac.js';
import { startAgent, type RunningAgent, ERROR_LINE } from '../cli/cli-support.js';
import { AGENT_GROUPS, AGENT_NS, AGENT_SA, AGENT_USER, until } from '../kube-agent/support.js';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import { ensureKubeTools } from '../support/kube/tools.js';
import { withLoweredMax } from '../support/lowered-max.js';
import { appliedStatusIn, serveApiIn } from './serve-api-in.js';
import type { FillResult } from './fill-table.js';
import { execIn, execInOk, realKernelSkipReason, withNetns } from '../support/netns.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'iptables-nft-save', 'sysctl']);
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const CRDS = fileURLToPath(new URL('../../crds/', import.meta.url));
const NODE = 'e2e-node';

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: e2e}
spec:
  nodeSelector: {matchLabels: {e2e: "yes"}}
  mode: Enforce
  timeouts:
    tcp: {establishedSeconds: 900, closeWaitSeconds: 30}
`;

function parseEvents(json: string): Array<{ reason: string; type: string; message: string; count: number; lastTimestamp: string }> {
  return (JSON.parse(json) as { items: Array<{ reason: string; type: string; message: string; count: number; lastTimestamp: string }> }).items;
}

test('kubectl apply -> agent applies on the real kernel; drift, table full, delete', { skip, timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-kube-e2e-'));
  const { kubectl } = await ensureKubeTools();
  try {
    await withNetns('kube', async (ns) => {
      // The control plane's own traffic (kubectl, the agent, the API server and its etcd, all on
      // 127.0.0.1) is not tracked (the product's first remedy), so it goes on while the test fills
      // the table through 127.0.0.2.
      await execInOk(ns, 'nft', ['-f', '-'], {
        input: `table ip ctop_e2e_api {\n chain pre { type filter hook prerouting priority raw; ip saddr 127.0.0.1 ip daddr 127.0.0.1 notrack; }\n chain out { type filter hook output priority raw; ip saddr 127.0.0.1 ip daddr 127.0.0.1 notrack; }\n}\n`,
      });
      const api = await serveApiIn(ns, [{ name: AGENT_USER, groups: AGENT_GROUPS }]);
      console.log(`# API server: ${api.served.kind}`);
      const admin = writeKubeconfig({ server: api.served.url, token: api.served.adminToken, user: 'admin', dir, caData: api.served.caData });
      const agentConfig = writeKubeconfig({ server: api.served.url, token: api.served.tokens[AGENT_USER]!, user: 'agent', dir, caData: api.served.caData });
      const k = async (args: string[], input?: string) => {
        const r = await execIn(ns, kubectl, ['--kubeconfig', admin, ...args], input === undefined ? {} : { input });
        assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      let agent: RunningAgent | null = null;
      try {
        for (const f of (await readdir(CRDS)).filter((f) => f.endsWith('.yaml'))) await k(['apply', '-f', join(CRDS, f)]);
        await until('CRDs served', async () => ((await execIn(ns, kubectl, ['--kubeconfig', admin, 'get', 'ctpol'])).code === 0 ? true : undefined));
        const role = (await renderAgentClusterRole()) as { metadata: { name: string } };
        const binding = {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: 'e2e-agent' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name },
          subjects: [{ kind: 'ServiceAccount', name: AGENT_SA, namespace: AGENT_NS }],
        };
        await k(['apply', '-f', '-'], [role, binding].map((o) => dump(o)).join('---\n'));
        await k(['apply', '-f', '-'], dump({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { e2e: 'yes' } } }));
        await k(['apply', '-f', '-'], POLICY);

        agent = startAgent(
          ['--kubernetes', '--state-dir', join(dir, 'state'), '--interval', '2s', '--metrics-addr', '127.0.0.1:19760', '--notrack-backend', 'iptables-nft'],
          ['ip', 'netns', 'exec', ns, 'env', `NODE_NAME=${NODE}`, `KUBECONFIG=${agentConfig}`],
        );

        const status = await appliedStatusIn(ns, kubectl, admin, NODE, 30_000);
        assert.equal(status.status.appliedPolicy.name, 'e2e');
        const sysctl = async (key: string) => Number((await execInOk(ns, 'cat', [`/proc/sys/net/netfilter/${key}`])).trim());
        assert.equal(await sysctl('nf_conntrack_tcp_timeout_established'), 900);
        assert.equal(await sysctl('nf_conntrack_tcp_timeout_close_wait'), 30);
        assert.doesNotMatch(agent.log(), ERROR_LINE);

        // An outside change: drift event naming the key, and corrected.
        await execInOk(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_timeout_close_wait=60']);
        const drift = await until('ConntrackDriftDetected', async () =>
          parseEvents(await k(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${NODE}`, '-o', 'json'])).find(
            (e) => e.reason === 'ConntrackDriftDetected',
          ),
        );
        assert.match(drift.message, /nf_conntrack_tcp_timeout_close_wait is 60, policy says 30/);
        await until('drift corrected', async () => ((await sysctl('nf_conntrack_tcp_timeout_close_wait')) === 30 ? true : undefined));

        // A really full table: lower the global max (restored below), fill the namespace with ASSURED entries.
        await execInOk(ns, 'sysctl', ['-q', '-w', 'net.netfilter.nf_conntrack_tcp_timeout_time_wait=600']);
        await withLoweredMax(async (FULL_MAX) => {
          const fill = JSON.parse(
            await execInOk(ns, process.execPath, ['--import', 'tsx', here('./fill-table.ts'), String(FULL_MAX * 3)], { timeoutMs: 60_000 }),
          ) as FillResult;
          const fullAt = Date.now();
          assert.ok(fill.dropped >= 10, `the kernel dropped for a full table: ${JSON.stringify(fill)}`);
          const drops = (await execInOk(ns, 'conntrack', ['-S'])).match(/drop=(\d+)/g) ?? [];
          // conntrack -S reads the counters over netlink, the fill read the stat file: the two agree.
          assert.ok(
            drops.reduce((sum, d) => sum + Number(d.slice('drop='.length)), 0) >= fill.dropped,
            `conntrack -S counts the fill's ${fill.dropped} drops: ${drops.join(' ')}`,
          );
          const full = await until(
            'ConntrackTableFull within 10 s',
            async () =>
              parseEvents(await k(['get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${NODE}`, '-o', 'json'])).find(
                (e) => e.reason === 'ConntrackTableFull',
              ),
            10_000,
          );
          assert.equal(full.type, 'Warning');
          assert.match(full.message, /FULL on e2e-node/);
          console.log(`# ConntrackTableFull event ${Date.now() - fullAt} ms after the table filled (${fill.completed} entries)`);
        });

        // kubectl delete: the namespace's values come back, the status says so.
        await k(['delete', 'ctpol', 'e2e']);
        await until(
          'values restored',
          async () =>
            (await sysctl('nf_conntrack_tcp_timeout_established')) === 432000 && (await sysctl('nf_conntrack_tcp_timeout_close_wait')) === 60
              ? true
              : undefined,
          20_000,
        );
        const restored = JSON.parse(await k(['get', 'ctst', NODE, '-o', 'json'])) as { status: { conditions: Array<{ type: string; reason: string }> } };
        assert.equal(restored.status.conditions.find((c) => c.type === 'Applied')?.reason, 'Restored');

        agent.child.kill('SIGTERM');
        assert.equal(await agent.exited, 0);
        agent = null;
      } finally {
        if (agent) agent.child.kill('SIGKILL');
        await api.stop();
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

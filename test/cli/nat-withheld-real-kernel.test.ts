// Root, real kernel, inside a test namespace: a node whose NAT rules are the
// real kube-proxy captures (iptables mode through iptables-nft, or nftables
// mode) and the real CNI portmap capture, with the Services' endpoints as
// servers in the namespace and route_localnet on as kube-proxy sets it.
// A policy untracks lo (which the NodePort and hostPort DNATs need) and one
// loopback port no NAT rule touches. With each NOTRACK backend:
// - first, a NOTRACK rule on lo put in by hand breaks both NAT paths (the
//   issue's measurement), and removing it mends them;
// - `plan` and `apply` report lo withheld, naming the NAT rules; apply puts in
//   the other rule only; both NAT paths still answer;
// - the agent reports it in the status (condition, list) and the metric;
// - a NodePort added on the other rule's port after apply makes the agent
//   withdraw that rule within one pass, and the new NodePort answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { withheldEvents } from '../../src/report/notrack-withheld.js';
import { execIn, execInOk, realKernelSkipReason } from '../support/netns.js';
import { runCli } from './cli-support.js';
import { withAgent } from './agent-run.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'iptables-nft-save', 'iptables-nft-restore', 'sysctl']);
const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/kube-proxy-nat/${f}`, import.meta.url));
const NODE_IP = '192.168.77.10';
const APP_PORT = 31500;
const INTERVAL_S = 10;

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: node}
spec:
  mode: Enforce
  notrack:
    - {name: loopback, interface: lo}
    # An application on this node's loopback, untracked: no NAT rule touches it (yet).
    - name: local-app
      interface: lo
      protocol: tcp
      ports: [${APP_PORT}]
      destinations: [127.0.0.0/8, ${NODE_IP}/32]
      direction: both
`;

interface Mode {
  backend: 'iptables-nft' | 'nftables';
  /** Loads kube-proxy's rules into the namespace. */
  load: (ns: string) => Promise<void>;
  /** The NodePort URL as the node reaches it (kube-proxy's nftables mode has no localhost NodePorts). */
  nodePort: (port: number) => string;
  /** Adds a NodePort on `port` to web-nodeport's endpoints, as kube-proxy does. */
  addNodePort: (ns: string, port: number) => Promise<void>;
  /** What the plan names on the path to the NodePort's DNAT. */
  nodePortPath: RegExp;
}

/** The top-level `table ip kube-proxy` / `table ip6 kube-proxy` blocks of the nftables-mode capture. */
async function kubeProxyTables(): Promise<string> {
  const out: string[] = [];
  let keep = false;
  let depth = 0;
  for (const line of (await readFile(fixture('nftables-mode.ruleset'), 'utf8')).split('\n')) {
    if (depth === 0) keep = /^table ip6? kube-proxy \{$/.test(line);
    depth += (line.match(/\{/g) ?? []).length - (line.match(/\}/g) ?? []).length;
    if (keep) out.push(line);
  }
  return `${out.join('\n')}\n`;
}

const MODES: Mode[] = [
  {
    backend: 'iptables-nft',
    load: async (ns) => {
      // -m nfacct needs an nfacct object only kube-proxy's own netlink calls create.
      const rules = (await readFile(fixture('iptables-mode.nat.rules'), 'utf8')).replaceAll(' -m nfacct --nfacct-name  localhost_nps_accepted_pkts', '');
      await execInOk(ns, 'iptables-nft-restore', [], { input: rules });
    },
    nodePort: (port) => `http://127.0.0.1:${port}/`,
    addNodePort: async (ns, port) => {
      await execInOk(ns, 'iptables-nft', [
        '-t',
        'nat',
        '-I',
        'KUBE-NODEPORTS',
        '1',
        '-d',
        '127.0.0.0/8',
        '-p',
        'tcp',
        '--dport',
        String(port),
        '-j',
        'KUBE-EXT-IWCJJAMV7TQADP7P',
      ]);
      await execInOk(ns, 'iptables-nft', ['-t', 'nat', '-I', 'KUBE-NODEPORTS', '2', '-p', 'tcp', '--dport', String(port), '-j', 'KUBE-EXT-IWCJJAMV7TQADP7P']);
    },
    nodePortPath: /reached by KUBE-NODEPORTS: -d 127\.0\.0\.0\/8 -p tcp -m tcp --dport 30(080|443)/,
  },
  {
    backend: 'nftables',
    load: async (ns) => {
      await execInOk(ns, 'nft', ['-f', '-'], { input: await kubeProxyTables() });
    },
    nodePort: (port) => `http://${NODE_IP}:${port}/`,
    addNodePort: async (ns, port) => {
      await execInOk(ns, 'nft', [
        'add',
        'element',
        'ip',
        'kube-proxy',
        'service-nodeports',
        `{ tcp . ${port} : goto external-GCGJYZ2R-default/web-nodeport/tcp/http }`,
      ]);
    },
    nodePortPath: /reached by services: ip daddr @nodeport-ips meta l4proto \. th dport vmap @service-nodeports \[tcp \. 30(080|443) : goto external-/,
  },
];

/** eth0 holds the node address and the endpoints' addresses (the Services' endpoints are servers here). */
async function setUpNode(ns: string, mode: Mode): Promise<void> {
  await execInOk(ns, 'sh', [
    '-ec',
    [
      'ip link add eth0 type veth peer name peer0',
      `ip addr add ${NODE_IP}/24 dev eth0`,
      'for a in 10.244.0.5 10.244.1.7 10.244.0.20; do ip addr add $a/32 dev eth0; done',
      'ip link set eth0 up',
      'ip link set peer0 up',
      // As kube-proxy sets it for localhost NodePorts.
      `sysctl -qw net.ipv4.conf.all.route_localnet=${(await readFile(fixture('iptables-mode.route_localnet'), 'utf8')).trim()}`,
    ].join('\n'),
  ]);
  await mode.load(ns);
  await execInOk(ns, 'iptables-nft-restore', ['--noflush'], { input: await readFile(fixture('portmap.nat.rules'), 'utf8') });
}

// Runs inside the namespace: an HTTP server on each port (the endpoints listen on every
// address), 'ready' once listening, gone when stdin closes or after 120 s.
const SERVERS = `
const http = require('node:http');
const ports = process.argv.slice(1).map(Number);
Promise.all(ports.map((p) => new Promise((ok) => http.createServer((q, s) => s.end('ok ' + p)).listen(p, '0.0.0.0', ok)))).then(() => console.log('ready'));
process.stdin.on('end', () => process.exit(0)).resume();
setTimeout(() => process.exit(0), 120000).unref();
`;

async function startServers(ns: string, ports: number[]): Promise<{ stop: () => Promise<void> }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVERS, ...ports.map(String)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const ready = await new Promise<boolean>((resolve) => {
    createInterface({ input: child.stdout }).on('line', (l) => l === 'ready' && resolve(true));
    child.on('close', () => resolve(false));
  });
  if (!ready) throw new Error('the servers did not start');
  return {
    stop: async () => {
      child.stdin.end();
      await exited;
    },
  };
}

// Runs inside the namespace: one GET with a 3 s bound; prints the status code or the error.
const GET = `require('node:http').get(process.argv[1], { timeout: 3000 }, (r) => { console.log(r.statusCode); r.resume(); })
  .on('timeout', function () { console.log('timeout'); this.destroy(); }).on('error', (e) => console.log(e.code ?? e.message));`;

async function get(ns: string, url: string): Promise<string> {
  return (await execInOk(ns, process.execPath, ['-e', GET, url], { timeoutMs: 10_000 })).trim();
}

/** Our rules in the raw table, as the backend lists them. */
async function ourRules(ns: string, backend: Mode['backend']): Promise<string> {
  if (backend === 'iptables-nft')
    return (await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']))
      .split('\n')
      .filter((l) => l.startsWith('-A CTOP-'))
      .join('\n');
  const r = await execIn(ns, 'nft', ['list', 'table', 'inet', 'conntrack_operator']);
  return r.code === 0 ? r.stdout : '';
}

const condition = (s: NodeStatusDoc, type: string) => s.conditions.find((c) => c.type === type);

for (const mode of MODES) {
  test(`NAT rules on the node: lo withheld, the other rule applied, a later NodePort withdraws it (${mode.backend})`, { skip, timeout: 300_000 }, async () => {
    await withAgent(`nat-${mode.backend === 'nftables' ? 'nft' : 'ipt'}`, POLICY, async (run) => {
      const { ns, dir } = run;
      await setUpNode(ns, mode);
      const servers = await startServers(ns, [8080, 80, APP_PORT]);
      try {
        const nodePort = mode.nodePort(30080);
        const hostPort = `http://${NODE_IP}:8081/`;
        const paths = async () => [await get(ns, nodePort), await get(ns, hostPort)];
        assert.deepEqual(await paths(), ['200', '200'], 'NodePort and hostPort answer through their DNAT');

        // The measurement: a NOTRACK rule on lo, put in by hand, breaks both.
        await execInOk(ns, 'nft', ['-f', '-'], {
          input: 'table ip ctop_control {\n chain out {\n type filter hook output priority raw;\n oifname "lo" notrack\n }\n}\n',
        });
        assert.deepEqual(await paths(), ['ECONNREFUSED', 'ECONNREFUSED'], 'untracked, the packets skip the DNAT');
        await execInOk(ns, 'nft', ['delete', 'table', 'ip', 'ctop_control']);
        assert.deepEqual(await paths(), ['200', '200']);

        const policyFile = join(dir, 'policy.yaml');
        const state = ['--state-dir', join(dir, 'state'), '--notrack-backend', mode.backend];
        const inNs = { prefix: ['ip', 'netns', 'exec', ns] };

        // plan: lo withheld, naming the NodePort's DNAT, its owner and path, and the hostPort's.
        const plan = await runCli(['plan', '-f', policyFile, ...state], inNs);
        assert.equal(plan.code, 2, plan.stderr);
        assert.match(plan.stdout, /\+ notrack local-app/);
        assert.doesNotMatch(plan.stdout, /\+ notrack loopback/);
        assert.match(
          plan.stdout,
          /withheld \(not applied; an untracked packet skips the nat table\):\n {2}loopback: overlaps \d+ NAT rule\(s\) on this node\n/,
        );
        assert.match(
          plan.stdout,
          new RegExp(`its packets: DNAT in \\S+: .*\\(kube-proxy(, "default/web-(nodeport:http|lb:https)")?\\), ${mode.nodePortPath.source}`),
        );
        assert.match(
          plan.stdout,
          /its packets: DNAT in CNI-DN-615ce45688f2b9ffa5eae: -p tcp -m tcp --dport 8081 -j DNAT --to-destination 10\.244\.0\.20:80 \(CNI portmap/,
        );

        // apply: the other rule only; exit 1 naming the withheld one; both paths still answer.
        const applied = await runCli(['apply', '-f', policyFile, ...state], inNs);
        assert.equal(applied.code, 1, applied.stdout);
        assert.match(applied.stderr, /^NOTRACK rule loopback withheld: it would untrack packets that DNAT in /m);
        const rules = await ourRules(ns, mode.backend);
        assert.match(rules, new RegExp(`${APP_PORT}`), 'local-app is applied');
        assert.doesNotMatch(rules, /-[io] lo (-j CT|-m comment --comment loopback)|comment "loopback"/, 'loopback is not');
        assert.deepEqual(await paths(), ['200', '200']);
        assert.equal(await get(ns, `http://127.0.0.1:${APP_PORT}/`), '200');

        // The agent (taking over what apply did): the same in its status and metric. At this
        // interval a reading of these few NAT rules (about 0.1 s of CPU here) is due every pass.
        const metricsPort = mode.backend === 'nftables' ? 19771 : 19772;
        const agent = run.start(['--interval', `${INTERVAL_S}s`, '--metrics-addr', `127.0.0.1:${metricsPort}`, '--notrack-backend', mode.backend]);
        const first = await run.statusWhen(
          'the agent to apply local-app',
          async (s) => condition(s, 'NotrackWithheld')?.status === 'True' && (await ourRules(ns, mode.backend)).includes(String(APP_PORT)),
        );
        assert.equal(condition(first, 'NotrackWithheld')?.reason, 'NatOverlap');
        assert.match(condition(first, 'NotrackWithheld')!.message, /^NOTRACK rule loopback withheld: it would untrack packets that DNAT in /);
        assert.equal(condition(first, 'Applied')?.status, 'True');
        assert.deepEqual(
          first.notrackWithheld?.map((w) => [w.rule, w.reason, [...new Set(w.natRules?.map((n) => n.owner))].sort()]),
          [['loopback', 'NatOverlap', ['CNI portmap', 'kube-proxy']]],
        );
        assert.match(first.notrackWithheld![0]!.natRules!.find((n) => n.owner === 'kube-proxy')!.via ?? '', /^(KUBE-NODEPORTS|services): /);
        // The Node event the agent in a cluster sends for this status.
        const [event] = withheldEvents(null, first);
        assert.equal(event?.reason, 'ConntrackNotrackWithheld');
        assert.match(event!.message, /^On \S+: NOTRACK rule loopback withheld: it would untrack packets that DNAT in .*\((kube-proxy|CNI portmap)/);
        const metrics = await execInOk(ns, process.execPath, [
          '-e',
          GET.replace('console.log(r.statusCode); r.resume();', "let b=''; r.on('data', (c) => (b += c)).on('end', () => console.log(b));"),
          `http://127.0.0.1:${metricsPort}/metrics`,
        ]);
        assert.match(metrics, /^conntrack_operator_notrack_withheld_rules 1$/m);
        assert.deepEqual(await paths(), ['200', '200']);

        // A NodePort on local-app's port appears: withdrawn within one pass, and the NodePort answers.
        await mode.addNodePort(ns, APP_PORT);
        const added = Date.now();
        const second = await run.statusWhen(
          'local-app to be withdrawn',
          async (s) => s.notrackWithheld?.some((w) => w.rule === 'local-app') === true && !(await ourRules(ns, mode.backend)).includes(String(APP_PORT)),
          // Within one pass: the pass under way may have read the rules just before the change.
          2 * INTERVAL_S * 1000 + 15_000,
        );
        const tookMs = Date.now() - added;
        console.log(`# ${mode.backend}: local-app withdrawn ${tookMs} ms after the NodePort appeared (interval ${INTERVAL_S} s)`);
        assert.match(second.notrackWithheld!.find((w) => w.rule === 'local-app')!.message, new RegExp(`DNAT in .*${APP_PORT}`));
        assert.equal(await get(ns, mode.nodePort(APP_PORT)), '200', 'the new NodePort reaches web-nodeport');
        assert.deepEqual(
          withheldEvents(first, second).map((e) => e.message.includes('local-app')),
          [true],
        );
        assert.equal(await run.stop(), 0, agent.log());
      } finally {
        await servers.stop();
      }
    });
  });
}

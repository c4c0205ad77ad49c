import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  COMMANDS,
  commandUsage,
  DEFAULT_AGENT_SELECTOR,
  globalUsage,
  groupUsage,
  loadConfig,
  parseInvocation,
  UsageError,
  type Command,
} from '../src/config.js';

test('defaults and flags', () => {
  const c = loadConfig(['doctor'], {}, 'host-a');
  assert.equal(c.command, 'doctor');
  assert.equal(c.procRoot, '/proc');
  assert.equal(c.sysRoot, '/sys');
  assert.equal(c.nodeName, 'host-a');
  assert.equal(c.top, 10);
  assert.equal(c.output, 'text');
  assert.equal(c.intervalMs, 30_000);
  assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9753 });
  assert.ok(Object.isFrozen(c));
});

const cases: Array<{ name: string; argv: string[]; env?: Record<string, string>; check: (c: ReturnType<typeof loadConfig>) => void }> = [
  {
    name: 'proc and sys roots',
    argv: ['doctor', '--proc-root', '/host/proc', '--sys-root=/host/sys'],
    check: (c) => assert.deepEqual([c.procRoot, c.sysRoot], ['/host/proc', '/host/sys']),
  },
  {
    name: 'boolean flags',
    argv: ['doctor', '--json', '--no-table', '--top', '3'],
    check: (c) => assert.deepEqual([c.output, c.noTable, c.top], ['json', true, 3]),
  },
  { name: '-o yaml', argv: ['doctor', '-o', 'yaml'], check: (c) => assert.equal(c.output, 'yaml') },
  { name: 'doctor samples 2 s by default', argv: ['doctor'], check: (c) => assert.equal(c.sampleMs, 2000) },
  { name: '--sample 0: no window', argv: ['doctor', '--sample', '0'], check: (c) => assert.equal(c.sampleMs, 0) },
  { name: '--sample 0s: no window, in the same grammar', argv: ['doctor', '--sample', '0s'], check: (c) => assert.equal(c.sampleMs, 0) },
  { name: '--sample 1m30s', argv: ['doctor', '--sample', '1m30s'], check: (c) => assert.equal(c.sampleMs, 90_000) },
  { name: '--output=json', argv: ['plan', '-f', 'p.yaml', '--output=json'], check: (c) => assert.deepEqual([c.output, c.policyFile], ['json', 'p.yaml']) },
  {
    name: 'node labels',
    argv: ['plan', '--policy', 'p.yaml', '--node-labels', 'role=web, zone=a,bare'],
    check: (c) => assert.deepEqual(c.nodeLabels, { role: 'web', zone: 'a', bare: '' }),
  },
  { name: 'NODE_NAME wins over hostname', argv: ['agent', '--kubernetes'], env: { NODE_NAME: 'node-7' }, check: (c) => assert.equal(c.nodeName, 'node-7') },
  { name: 'pods named by default', argv: ['agent', '--kubernetes'], check: (c) => assert.equal(c.podNames, true) },
  { name: '--no-pod-names', argv: ['agent', '--kubernetes', '--no-pod-names'], check: (c) => assert.equal(c.podNames, false) },
  {
    name: 'plain metrics with health beside them by default',
    argv: ['controller'],
    check: (c) => assert.deepEqual([c.metricsSecure, c.metricsCertDir, c.health], [false, undefined, undefined]),
  },
  {
    name: 'secure metrics, a certificate folder, health on its own address',
    argv: ['agent', '--kubernetes', '--metrics-secure', '--metrics-cert-dir', '/tls', '--health-addr', '127.0.0.1:9755'],
    check: (c) => assert.deepEqual([c.metricsSecure, c.metricsCertDir, c.health], [true, '/tls', { host: '127.0.0.1', port: 9755 }]),
  },
  { name: 'interval as a duration', argv: ['agent', '-f', 'p', '--interval', '5m'], check: (c) => assert.equal(c.intervalMs, 300_000) },
  { name: "interval in the policies' grammar", argv: ['agent', '-f', 'p', '--interval', '1m30s'], check: (c) => assert.equal(c.intervalMs, 90_000) },
  { name: 'interval in whole seconds', argv: ['agent', '-f', 'p', '--interval=45'], check: (c) => assert.equal(c.intervalMs, 45_000) },
  {
    name: 'metrics on all addresses',
    argv: ['agent', '-f', 'p', '--metrics-addr', ':9000'],
    check: (c) => assert.deepEqual(c.metrics, { host: '0.0.0.0', port: 9000 }),
  },
  { name: 'agent takes --policy-file', argv: ['agent', '--policy-file', 'x.yaml'], check: (c) => assert.equal(c.policyFile, 'x.yaml') },
  {
    name: 'cidr lists',
    argv: ['plan', '--policy', 'p', '--service-cidr', '10.96.0.0/12,fd00::/108'],
    check: (c) => assert.deepEqual(c.serviceCidrs, ['10.96.0.0/12', 'fd00::/108']),
  },
  { name: 'KUBECONFIG', argv: ['controller'], env: { KUBECONFIG: '/env/kc' }, check: (c) => assert.equal(c.kubeconfig, '/env/kc') },
  {
    name: '--kubeconfig wins over KUBECONFIG',
    argv: ['agent', '--kubernetes', '--kubeconfig', '/flag/kc'],
    env: { KUBECONFIG: '/env/kc' },
    check: (c) => assert.equal(c.kubeconfig, '/flag/kc'),
  },
  {
    name: 'kubectl doctor: NODE, and the doctor flags as given, to pass on',
    argv: ['kubectl', 'doctor', 'node-1', '-o', 'json', '--no-table', '--sample=0', '--top', '3', '-n', 'ops', '--context', 'prod'],
    check: (c) =>
      assert.deepEqual(
        [c.command, c.nodeName, c.doctorArgs, c.output, c.namespace, c.context, c.kubectl],
        ['kubectl doctor', 'node-1', ['--output=json', '--no-table', '--sample=0', '--top=3'], 'json', 'ops', 'prod', 'kubectl'],
      ),
  },
  {
    name: 'kubectl commands: KUBECONFIG is a list kubectl searches, not the --kubeconfig file',
    argv: ['kubectl', 'status'],
    env: { KUBECONFIG: '/a/kc:/b/kc', HOME: '/users/u' },
    check: (c) =>
      assert.deepEqual([c.kubeconfig, c.kubeconfigSearch, c.namespace, c.agentSelector], [undefined, ['/a/kc', '/b/kc'], undefined, DEFAULT_AGENT_SELECTOR]),
  },
  {
    name: 'kubectl commands: without KUBECONFIG, ~/.kube/config',
    argv: ['kubectl', 'status', '--check-ready', '-l', 'app=x', '--kubeconfig', '/flag/kc'],
    env: { HOME: '/users/u' },
    check: (c) => assert.deepEqual([c.kubeconfig, c.kubeconfigSearch, c.checkReady, c.agentSelector], ['/flag/kc', ['/users/u/.kube/config'], true, 'app=x']),
  },
  {
    name: 'no kubeconfig: in-cluster',
    argv: ['controller', '--leader-elect'],
    check: (c) => assert.deepEqual([c.kubeconfig, c.leaderElect], [undefined, true]),
  },
];
for (const tc of cases) test(`config: ${tc.name}`, () => tc.check(loadConfig(tc.argv, tc.env ?? {}, 'h')));

const bad: Array<{ argv: string[]; message: RegExp }> = [
  { argv: ['frobnicate'], message: /unknown command "frobnicate"/ },
  { argv: ['doctor', '--nope'], message: /--nope: unknown flag/ },
  { argv: ['doctor', '--leader-elect'], message: /--leader-elect: doctor does not take this flag/ },
  { argv: ['apply', '--policy', 'p', '--interval', '5s'], message: /--interval: apply does not take this flag/ },
  { argv: ['doctor', '--top', 'x'], message: /^--top: "x" is not a whole number/ },
  { argv: ['doctor', '--top'], message: /--top: needs a value/ },
  { argv: ['doctor', '--json=false'], message: /--json: takes no value/ },
  { argv: ['doctor', '-o', 'xml'], message: /--output: "xml" is not one of text, json, yaml/ },
  { argv: ['doctor', '-o', 'yaml', '--json'], message: /--json: contradicts -o yaml/ },
  { argv: ['agent', '-f', 'p', '--interval', '10ms'], message: /--interval: "10ms" is not an interval: expected whole seconds or a duration such as/ },
  { argv: ['agent', '-f', 'p', '--interval', '0'], message: /--interval: "0" is not an interval: must be at least 1 second/ },
  { argv: ['agent', '-f', 'p', '--metrics-addr', 'localhost'], message: /--metrics-addr: "localhost" is not host:port/ },
  { argv: ['agent', '-f', 'p', '--notrack-backend', 'ipfw'], message: /^--notrack-backend: "ipfw" is not one of/ },
  { argv: ['plan'], message: /--policy: plan needs a policy file/ },
  { argv: ['doctor', '--sample', '2x'], message: /^--sample: "2x" is not an interval: expected whole seconds or a duration such as/ },
  { argv: ['plan', '-f', 'p', '--sample', '2s'], message: /--sample: plan does not take this flag/ },
  { argv: ['doctor', 'stray'], message: /unexpected argument "stray"/ },
  {
    argv: ['plan', '--policy', 'p', '--service-cidr', '10.96.0.0/12,10.96.0.0/33'],
    message: /^--service-cidr: "10.96.0.0\/33" is not a valid IPv4 or IPv6 CIDR: prefix \/33 is longer than 32 bits/,
  },
  { argv: ['agent', '-f', 'p', '--pod-cidr', '10.244.0.0/16,banana'], message: /^--pod-cidr: "banana" is not a valid IPv4 or IPv6 CIDR/ },
  { argv: ['apply', '--policy', 'p', '--pod-cidr', '10.244.0.0.0/16'], message: /^--pod-cidr: .*4 dot-separated octets/ },
  { argv: ['plan', '-f', 'p', '--node-labels', 'bad key=1'], message: /label key "bad key": the name must be 1-63 characters of \[A-Za-z0-9-_.\]/ },
  { argv: ['agent'], message: /agent needs a policy source: --policy-file FILE .* or --kubernetes/ },
  { argv: ['agent', '--kubernetes', '--policy-file', 'p'], message: /--policy-file: with --kubernetes the policies come from the cluster/ },
  { argv: ['agent', '--kubernetes', '--once'], message: /--once: with --kubernetes/ },
  { argv: ['agent', '-f', 'p', '--no-pod-names'], message: /--no-pod-names: only with --kubernetes/ },
  { argv: ['agent', '-f', 'p', '--metrics-secure'], message: /--metrics-secure: only with --kubernetes \(the API server reviews the tokens\)/ },
  { argv: ['controller', '--metrics-cert-dir', '/tls'], message: /--metrics-cert-dir: only with --metrics-secure/ },
  { argv: ['controller', '--health-addr', '9755'], message: /--health-addr: "9755" is not host:port/ },
  { argv: ['doctor', '--metrics-secure'], message: /--metrics-secure: doctor does not take this flag/ },
  { argv: ['doctor', '--proc-root='], message: /--proc-root: must not be empty/ },
  { argv: ['kubectl'], message: /^kubectl needs a command/ },
  { argv: ['kubectl', 'logs'], message: /^unknown command "kubectl logs"/ },
  { argv: ['kubectl', 'doctor'], message: /^kubectl doctor needs NODE/ },
  { argv: ['kubectl', 'doctor', 'a', 'b'], message: /^unexpected argument "b"/ },
  { argv: ['kubectl', 'doctor', 'a', '--proc-root', '/x'], message: /--proc-root: kubectl doctor does not take this flag/ },
  { argv: ['kubectl', 'status', 'a'], message: /^unexpected argument "a"/ },
  { argv: ['kubectl', 'status', '--check-ready', '-o', 'xml'], message: /--output: "xml" is not one of/ },
  { argv: ['doctor', '-n', 'x'], message: /-n: unknown flag/ },
];
for (const tc of bad) {
  test(`config rejects ${tc.argv.join(' ')}`, () => {
    assert.throws(
      () => loadConfig(tc.argv, {}, 'h'),
      (err: unknown) => err instanceof UsageError && tc.message.test(err.message),
    );
  });
}

test('every problem of a command line is reported at once', () => {
  assert.throws(
    () => loadConfig(['agent', '-f', 'p', '--interval', 'soon', '--metrics-addr', 'x'], {}, 'h'),
    (err: unknown) => err instanceof UsageError && /--metrics-addr/.test(err.message) && /--interval/.test(err.message),
  );
});

test('help and version', () => {
  for (const argv of [[], ['help'], ['--help'], ['-h']]) assert.deepEqual(parseInvocation(argv, {}, 'h'), { help: globalUsage() });
  assert.deepEqual(parseInvocation(['--version'], {}, 'h'), { version: true });
  assert.deepEqual(parseInvocation(['kubectl', '--help'], {}, 'h'), { help: groupUsage() });
  for (const command of Object.keys(COMMANDS) as Command[]) {
    // --help wins over missing required flags: `plan --help` needs no --policy.
    for (const flag of ['--help', '-h']) assert.deepEqual(parseInvocation([...command.split(' '), flag], {}, 'h'), { help: commandUsage(command) });
  }
});

test("usage is generated from each command's option table", () => {
  for (const [command, spec] of Object.entries(COMMANDS) as Array<[Command, (typeof COMMANDS)[Command]]>) {
    const usage = commandUsage(command);
    for (const [name, option] of Object.entries(spec.options)) {
      assert.match(
        usage,
        new RegExp(
          `--${name}${'arg' in option ? ` ${option.arg.replace(/[.*]/g, '\\$&')}` : ''}\\s+${option.help.slice(0, 20).replace(/[()|.*+?[\]]/g, '\\$&')}`,
        ),
        `${command} --${name}`,
      );
    }
    assert.match(usage, /-h, --help/);
    assert.match(globalUsage(), new RegExp(`\\n  ${command}\\s+${spec.summary.slice(0, 20).replace(/[()|.*+?]/g, '\\$&')}`));
  }
});

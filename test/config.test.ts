import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, UsageError } from '../src/config.js';

test('defaults and flags', () => {
  const c = loadConfig(['doctor'], {}, 'host-a');
  assert.equal(c.command, 'doctor');
  assert.equal(c.procRoot, '/proc');
  assert.equal(c.sysRoot, '/sys');
  assert.equal(c.nodeName, 'host-a');
  assert.equal(c.top, 10);
  assert.equal(c.intervalMs, 30_000);
  assert.deepEqual(c.metrics, { host: '127.0.0.1', port: 9753 });
  assert.ok(Object.isFrozen(c));
});

const cases: Array<{ name: string; argv: string[]; env?: Record<string, string>; check: (c: ReturnType<typeof loadConfig>) => void }> = [
  { name: 'proc and sys roots', argv: ['doctor', '--proc-root', '/host/proc', '--sys-root=/host/sys'], check: (c) => assert.deepEqual([c.procRoot, c.sysRoot], ['/host/proc', '/host/sys']) },
  { name: 'boolean flags', argv: ['doctor', '--json', '--no-table', '--top', '3'], check: (c) => assert.deepEqual([c.json, c.noTable, c.top], [true, true, 3]) },
  { name: 'node labels', argv: ['plan', '--policy', 'p.yaml', '--node-labels', 'role=web, zone=a,bare'], check: (c) => assert.deepEqual(c.nodeLabels, { role: 'web', zone: 'a', bare: '' }) },
  { name: 'NODE_NAME wins over hostname', argv: ['agent'], env: { NODE_NAME: 'node-7' }, check: (c) => assert.equal(c.nodeName, 'node-7') },
  { name: 'interval units', argv: ['agent', '--interval', '5m'], check: (c) => assert.equal(c.intervalMs, 300_000) },
  { name: 'metrics on all addresses', argv: ['agent', '--metrics-addr', ':9000'], check: (c) => assert.deepEqual(c.metrics, { host: '0.0.0.0', port: 9000 }) },
  { name: 'agent takes --policy-file', argv: ['agent', '--policy-file', 'x.yaml'], check: (c) => assert.equal(c.policyFile, 'x.yaml') },
  { name: 'cidr lists', argv: ['plan', '--policy', 'p', '--service-cidr', '10.96.0.0/12,fd00::/108'], check: (c) => assert.deepEqual(c.serviceCidrs, ['10.96.0.0/12', 'fd00::/108']) },
];
for (const tc of cases) test(`config: ${tc.name}`, () => tc.check(loadConfig(tc.argv, tc.env ?? {}, 'h')));

const bad: Array<{ argv: string[]; message: RegExp }> = [
  { argv: ['frobnicate'], message: /unknown command "frobnicate"/ },
  { argv: ['doctor', '--nope'], message: /--nope: unknown flag/ },
  { argv: ['doctor', '--top', 'x'], message: /^--top:/ },
  { argv: ['doctor', '--top'], message: /--top needs a value/ },
  { argv: ['agent', '--interval', '10ms'], message: /--interval: "10ms" is not an interval of at least 1s/ },
  { argv: ['agent', '--metrics-addr', 'localhost'], message: /--metrics-addr: "localhost" is not host:port/ },
  { argv: ['agent', '--notrack-backend', 'ipfw'], message: /^--notrack-backend:/ },
  { argv: ['plan'], message: /--policy: plan needs a policy file/ },
  { argv: ['doctor', 'stray'], message: /unexpected argument "stray"/ },
  { argv: ['plan', '--policy', 'p', '--service-cidr', '10.96.0.0/12,10.96.0.0/33'], message: /^--service-cidr: "10.96.0.0\/33" is not a valid IPv4 or IPv6 CIDR: prefix \/33 is longer than 32 bits/ },
  { argv: ['agent', '--pod-cidr', '10.244.0.0/16,banana'], message: /^--pod-cidr: "banana" is not a valid IPv4 or IPv6 CIDR/ },
  { argv: ['apply', '--policy', 'p', '--pod-cidr', '10.244.0.0.0/16'], message: /^--pod-cidr: .*4 dot-separated octets/ },
  { argv: ['doctor', '--node-labels', 'bad key=1'], message: /"bad key" is not a valid label key/ },
];
for (const tc of bad) {
  test(`config rejects ${tc.argv.join(' ')}`, () => {
    assert.throws(() => loadConfig(tc.argv, {}, 'h'), (err: unknown) => err instanceof UsageError && tc.message.test(err.message));
  });
}

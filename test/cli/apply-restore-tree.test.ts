// plan / apply / restore end to end through the real CLI, against a copy of a
// real kernel's /proc and /sys tree (plain files, so no root is needed).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureCopy, readNumber, runCli } from './cli-support.js';

let tree: Awaited<ReturnType<typeof fixtureCopy>>;
let common: string[];
const key = (name: string) => join(tree.procRoot, 'sys/net/netfilter', name);

async function netfilterValues(): Promise<Record<string, string>> {
  const dir = join(tree.procRoot, 'sys/net/netfilter');
  const names = (await readdir(dir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')] as const)));
}

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: web}
spec:
  mode: Enforce
  table: {max: 524288, buckets: 131072}
  timeouts:
    tcp: {establishedSeconds: 600, timeWaitSeconds: 30}
    udp: {unrepliedSeconds: 20}
`;

before(async () => {
  tree = await fixtureCopy('host-6.18');
  common = ['--proc-root', tree.procRoot, '--sys-root', tree.sysRoot, '--state-dir', join(tree.dir, 'state'), '--notrack-backend', 'nftables'];
  await writeFile(join(tree.dir, 'policy.yaml'), POLICY);
});
after(() => tree.cleanup());

test('plan shows the diff, writes nothing, and exits 2 because something would change', async () => {
  const before = await netfilterValues();
  const r = await runCli(['plan', '--policy', join(tree.dir, 'policy.yaml'), ...common]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stdout, /tcp established {2}432000 -> 600/);
  assert.match(r.stdout, /tcp time_wait {2}120 -> 30/);
  assert.match(r.stdout, /max {2}262144 -> 524288/);
  assert.deepEqual(await netfilterValues(), before);
});

test('apply writes, records the baseline, and a second apply changes nothing', async () => {
  const r = await runCli(['apply', '--policy', join(tree.dir, 'policy.yaml'), ...common]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readNumber(key('nf_conntrack_tcp_timeout_established')), 600);
  assert.equal(await readNumber(key('nf_conntrack_tcp_timeout_time_wait')), 30);
  assert.equal(await readNumber(key('nf_conntrack_udp_timeout')), 20);
  assert.equal(await readNumber(key('nf_conntrack_max')), 524288);
  assert.equal(await readNumber(key('nf_conntrack_buckets')), 131072);
  const baseline = JSON.parse(await readFile(join(tree.dir, 'state/baseline.json'), 'utf8')) as { values: Record<string, number> };
  assert.equal(baseline.values['nf_conntrack_tcp_timeout_established'], 432000);
  assert.equal(baseline.values['nf_conntrack_max'], 262144);

  const again = await runCli(['apply', '--policy', join(tree.dir, 'policy.yaml'), ...common]);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /in sync: nothing to change/);
  assert.doesNotMatch(again.stdout, /applied/);

  const plan = await runCli(['plan', '-f', join(tree.dir, 'policy.yaml'), '-o', 'yaml', ...common]);
  assert.equal(plan.code, 0, 'in sync: plan exits 0');
  assert.match(plan.stdout, /^inSync: true$/m);
});

test('restore puts back the exact values from before the first apply', async () => {
  const r = await runCli(['restore', ...common]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await readNumber(key('nf_conntrack_tcp_timeout_established')), 432000);
  assert.equal(await readNumber(key('nf_conntrack_tcp_timeout_time_wait')), 120);
  assert.equal(await readNumber(key('nf_conntrack_udp_timeout')), 30);
  assert.equal(await readNumber(key('nf_conntrack_max')), 262144);
  assert.equal(await readNumber(key('nf_conntrack_buckets')), 262144);
  const second = await runCli(['restore', ...common]);
  assert.match(second.stdout, /nothing to restore/);
});

test('apply of a DryRun policy gives back what no Enforce policy asks for any more, and prints the plan as one document', async () => {
  const own = await fixtureCopy('host-6.18');
  try {
    const flags = ['--proc-root', own.procRoot, '--sys-root', own.sysRoot, '--state-dir', join(own.dir, 'state'), '--notrack-backend', 'nftables'];
    const timeWait = () => readNumber(join(own.procRoot, 'sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait'));
    const file = join(own.dir, 'policy.yaml');
    await writeFile(file, POLICY);
    assert.equal((await runCli(['apply', '-f', file, ...flags])).code, 0);
    assert.equal(await timeWait(), 30);
    await writeFile(file, POLICY.replace('mode: Enforce', 'mode: DryRun'));
    const r = await runCli(['apply', '-f', file, '-o', 'json', ...flags]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await timeWait(), 120, 'the value from before the first apply');
    assert.match(r.stderr, /gave back \(no Enforce policy asks for it any more\): tcp time_wait {2}30 -> 120/);
    assert.match(r.stderr, /DryRun mode: its changes were not written/);
    const plan = JSON.parse(r.stdout) as { mode: string; changes: Array<{ key: string; from: number; to: number }> };
    assert.equal(plan.mode, 'DryRun');
    assert.deepEqual(
      plan.changes.find((c) => c.key === 'nf_conntrack_tcp_timeout_time_wait'),
      { key: 'nf_conntrack_tcp_timeout_time_wait', from: 120, to: 30, description: 'tcp time_wait  120 -> 30' },
    );
    const again = await runCli(['apply', '-f', file, ...flags]);
    assert.doesNotMatch(again.stderr, /gave back/, 'nothing of ours is left to give back');
    assert.equal(await timeWait(), 120);
  } finally {
    await own.cleanup();
  }
});

test('plan on a host where kubelet runs: a NOTRACK rule that needs the cluster ranges is refused until --service-cidr and --pod-cidr give them', async () => {
  const own = await fixtureCopy('host-6.18');
  try {
    await mkdir(join(own.procRoot, '4321'));
    await writeFile(join(own.procRoot, '4321', 'comm'), 'kubelet\n');
    const file = join(own.dir, 'policy.yaml');
    await writeFile(
      file,
      `${POLICY}  notrack:\n    - {name: loopback, interface: lo, destinations: [127.0.0.0/8]}\n    - {name: web, protocol: tcp, ports: [443], direction: inbound, destinations: [203.0.113.10/32]}\n`,
    );
    const flags = ['--proc-root', own.procRoot, '--sys-root', own.sysRoot, '--state-dir', join(own.dir, 'state'), '--notrack-backend', 'nftables'];
    const unknown = await runCli(['plan', '-f', file, ...flags]);
    assert.match(
      unknown.stdout,
      /refused by guardrails \(not applied\):\n {2}web: spec\.notrack\[web\]: needs the Service and Pod ranges, and this node does not know its Service and Pod ranges/,
    );
    assert.doesNotMatch(unknown.stdout, /spec\.notrack\[loopback\]/, 'a rule for node-local destinations needs no ranges');
    const given = await runCli(['plan', '-f', file, '--service-cidr', '10.96.0.0/12', '--pod-cidr', '10.244.0.0/16', ...flags]);
    assert.doesNotMatch(given.stdout, /refused by guardrails/);
  } finally {
    await own.cleanup();
  }
});

const BAD: Array<{ name: string; yaml: string; messages: RegExp[] }> = [
  {
    name: 'schema errors, all at once, each naming its field',
    yaml: POLICY.replace('establishedSeconds: 600', 'establishedSeconds: 10m').replace('unrepliedSeconds: 20', 'unrepliedSeconds: -5'),
    messages: [/web: spec\.timeouts\.tcp\.establishedSeconds: /, /web: spec\.timeouts\.udp\.unrepliedSeconds: /],
  },
  { name: 'unknown field', yaml: POLICY.replace('timeWaitSeconds: 30', 'timeWiat: 30'), messages: [/spec\.timeouts\.tcp.*timeWiat/] },
  { name: 'YAML syntax', yaml: 'apiVersion: [', messages: [/line \d+/] },
  {
    name: 'a timeout below the safe floor without the opt-in',
    yaml: POLICY.replace('establishedSeconds: 600', 'establishedSeconds: 60'),
    messages: [/spec\.timeouts\.tcp\.established/, /nothing was written/],
  },
];
for (const tc of BAD) {
  test(`bad input: ${tc.name} -> exit 1, nothing written`, async () => {
    const before = await netfilterValues();
    const file = join(tree.dir, 'bad.yaml');
    await writeFile(file, tc.yaml);
    const r = await runCli(['apply', '--policy', file, ...common]);
    assert.equal(r.code, 1);
    const text = r.stdout + r.stderr;
    for (const m of tc.messages) assert.match(text, m);
    assert.doesNotMatch(text, /\n\s+at .*\(/, 'no stack trace');
    assert.deepEqual(await netfilterValues(), before);
  });
}

test('bad flags name the flag and the command, with its usage', async () => {
  const r = await runCli(['apply', '--policy', 'x.yaml', '--interval', '5m']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--interval: apply does not take this flag/);
  assert.match(r.stderr, /Usage: conntrack-operator apply \[flags\]/);
});

test('--help on every command exits 0 with its usage; --version', async () => {
  for (const args of [['--help'], ['agent', '--help'], ['doctor', '-h'], ['plan', '--help']]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, args.length === 1 ? /Commands:/ : new RegExp(`Usage: conntrack-operator ${args[0]} \\[flags\\]`));
  }
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  const v = await runCli(['--version']);
  assert.deepEqual([v.code, v.stdout], [0, `conntrack-operator ${pkg.version}\n`]);
});

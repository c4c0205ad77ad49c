// Root only: each backend against the real kernel in a namespace of its own,
// with a user's foreign rules around ours. Traffic only to 127.0.0.1 there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandResult, CommandRunner, ChunkStream, RunOptions } from '../../src/kernel/command-runner.js';
import type { NotrackBackendName, NotrackDesired } from '../../src/kernel/notrack/backend.js';
import { createNotrackBackend } from '../../src/kernel/notrack/detect.js';
import type { DesiredNotrackRule } from '../../src/policy/types.js';
import { connectTimes, netnsRunner, realKernelSkipReason, trackedTo } from '../support/netns.js';
import { createNetns, notrackHostIn } from './netns.js';

const UNTRACKED_PORT = 18080;
const TRACKED_PORT = 18081;
const CONNECTIONS = 5;

class CountingRunner implements CommandRunner {
  readonly calls: string[] = [];
  constructor(private readonly inner: CommandRunner) {}
  run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    this.calls.push([cmd, ...args].join(' '));
    return this.inner.run(cmd, args, opts);
  }
  streamChunks(cmd: string, args: string[]): ChunkStream {
    return this.inner.streamChunks(cmd, args);
  }
}

type Sh = (script: string) => string;

interface BackendCase {
  name: NotrackBackendName;
  tools: string[];
  /** The user's own rules, one of them using conntrack so the namespace tracks at all. */
  seed: string;
  /** What must stay byte-for-byte (counters aside) across sync + remove. */
  snapshot: string;
  /** The user's rules (for iptables: every -A line not about our chains; sync may add a table ours live in). */
  foreign: (sh: Sh) => string;
  /** Someone else deletes our loopback rule in the PREROUTING chain. */
  deleteLoopback: string;
  checkCalls: number;
  /** Rules we own for loopback + port P (+ the accepts mirroring PREROUTING: -i lo and --dport P, in each iptables family). */
  ownedRules: number;
}

const ipt = (mode: 'nft' | 'legacy'): BackendCase => ({
  name: `iptables-${mode}`,
  tools: ['iptables', 'ip6tables'].flatMap((t) => [`${t}-${mode}-save`, `${t}-${mode}-restore`]),
  seed: [
    `iptables-${mode} -t raw -A PREROUTING -s 192.0.2.0/24 -j CT --notrack`,
    `iptables-${mode} -A INPUT -p tcp --dport 22 -j ACCEPT`,
    `iptables-${mode} -A INPUT -m conntrack --ctstate INVALID -j DROP`,
    `ip6tables-${mode} -t raw -A OUTPUT -d 2001:db8::/32 -j CT --notrack`,
  ].join('\n'),
  snapshot: `iptables-${mode}-save -t raw; iptables-${mode}-save -t filter; ip6tables-${mode}-save -t raw`,
  foreign: (sh) =>
    sh(`iptables-${mode}-save; ip6tables-${mode}-save`)
      .split('\n')
      .filter((l) => l.startsWith('-A') && !l.includes('CTOP-'))
      .join('\n'),
  deleteLoopback: `iptables-${mode} -t raw -D CTOP-NOTRACK-PRE -i lo -m comment --comment loopback -j CT --notrack`,
  checkCalls: 4, // raw and filter, per family
  ownedRules: 16,
});

const CASES: BackendCase[] = [
  ipt('nft'),
  ipt('legacy'),
  {
    name: 'nftables',
    tools: ['nft'],
    seed: [
      'nft add table inet user',
      `nft add chain inet user raw "{ type filter hook prerouting priority raw; }"`,
      'nft add rule inet user raw ip saddr 192.0.2.0/24 notrack',
      `nft add chain inet user input "{ type filter hook input priority 0; }"`,
      'nft add rule inet user input ct state invalid drop',
    ].join('\n'),
    snapshot: 'nft list ruleset',
    foreign: (sh) => sh('nft list table inet user'),
    deleteLoopback:
      'nft delete rule inet conntrack_operator notrack-pre handle $(nft -a list chain inet conntrack_operator notrack-pre | sed -n "s/.*loopback.*# handle //p")',
    checkCalls: 1,
    ownedRules: 6,
  },
];

function withoutCounters(text: string): string {
  return text
    .replace(/^# (Generated|Completed).*\n/gm, '')
    .replace(/\[\d+:\d+\]/g, '[0:0]')
    .replace(/counter packets \d+ bytes \d+/g, 'counter');
}

const port = (p: number) => [{ from: p, to: p }];
const loopback: DesiredNotrackRule = { name: 'loopback', interface: 'lo', direction: 'both' };
const untrackedPort: DesiredNotrackRule = { name: 'port-p', protocol: 'tcp', ports: port(UNTRACKED_PORT), direction: 'both' };

const TEN_RULES: NotrackDesired = {
  acceptUntracked: true,
  rules: [
    loopback,
    { name: 'web', protocol: 'tcp', ports: [...port(80), ...port(443), { from: 8000, to: 8100 }], direction: 'inbound' },
    { name: 'dns', protocol: 'udp', ports: port(53), destinations: ['10.96.0.10/32'], direction: 'outbound' },
    { name: 'ntp', protocol: 'udp', ports: port(123), direction: 'both' },
    { name: 'memcached', protocol: 'tcp', ports: port(11211), sources: ['10.10.0.0/16'], direction: 'inbound' },
    { name: 'redis', protocol: 'tcp', ports: port(6379), direction: 'outbound' },
    { name: 'lan', sources: ['192.168.0.0/16', 'fd00::/8'], direction: 'inbound' },
    {
      name: 'combo',
      interface: 'eth0',
      sources: ['10.0.0.0/8', '172.16.0.1', 'fd00::/8'],
      destinations: ['10.1.0.0/16', 'fd01::1'],
      protocol: 'udp',
      ports: [...port(80), { from: 81, to: 90 }, ...port(8125)],
      direction: 'both',
    },
    { name: 'v6-only', destinations: ['2001:db8:1::/48'], direction: 'outbound' },
    untrackedPort,
  ],
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return Math.round((performance.now() - start) * 10) / 10;
}

for (const c of CASES) {
  const skip = realKernelSkipReason(['ip', 'conntrack', ...c.tools]) ?? false;

  test(`${c.name}: sync, check, drift and remove on the real kernel`, { skip }, async (t) => {
    const ns = createNetns(`nt-${c.name.replace('iptables-', 'ipt')}`);
    try {
      ns.sh(c.seed);
      const before = withoutCounters(ns.sh(c.snapshot));
      const foreignBefore = c.foreign(ns.sh);
      const runner = new CountingRunner(netnsRunner(ns.name));
      const backend = createNotrackBackend(c.name, notrackHostIn(ns.name, runner));

      // A port rule: connections to P are not tracked, to Q (control) they are.
      await backend.sync({ rules: [untrackedPort], acceptUntracked: true });
      ns.sh('conntrack -F 2>/dev/null');
      await connectTimes(ns.name, CONNECTIONS, [UNTRACKED_PORT, TRACKED_PORT]);
      assert.equal(await trackedTo(ns.name, UNTRACKED_PORT), 0, 'port P untracked');
      assert.equal(await trackedTo(ns.name, TRACKED_PORT), CONNECTIONS, 'port Q tracked');

      // With the loopback rule too, Q on lo is no longer tracked either.
      const desired: NotrackDesired = { rules: [loopback, untrackedPort], acceptUntracked: true };
      await backend.sync(desired);
      ns.sh('conntrack -F 2>/dev/null');
      await connectTimes(ns.name, CONNECTIONS, [TRACKED_PORT]);
      assert.equal(await trackedTo(ns.name, TRACKED_PORT), 0, 'loopback untracked');
      assert.equal(c.foreign(ns.sh), foreignBefore, 'foreign rules untouched');

      runner.calls.length = 0;
      assert.deepEqual(await backend.check(desired), { inSync: true, missing: [], extra: [], ownedRules: c.ownedRules });
      assert.equal(runner.calls.length, c.checkCalls, `calls per check: ${runner.calls.join('; ')}`);
      t.diagnostic(`check calls: ${runner.calls.join('; ')}`);

      ns.sh(c.deleteLoopback);
      const drift = await backend.check(desired);
      assert.equal(drift.inSync, false);
      assert.equal(drift.missing.length, 1);
      assert.match(drift.missing[0] ?? '', /loopback/);
      assert.deepEqual(drift.extra, []);
      await backend.sync(desired);
      assert.equal((await backend.check(desired)).inSync, true, 'sync repairs drift');

      await backend.remove();
      await backend.remove(); // idempotent
      assert.equal(withoutCounters(ns.sh(c.snapshot)), before, 'remove leaves the tables as they were');

      // Timings with 10 rules.
      const first = await timed(() => backend.sync(TEN_RULES));
      const check = await timed(() => backend.check(TEN_RULES));
      const noop = await timed(() => backend.sync(TEN_RULES));
      assert.equal((await backend.check(TEN_RULES)).inSync, true);
      const removal = await timed(() => backend.remove());
      t.diagnostic(`10 rules: first sync ${first} ms, check ${check} ms, in-sync sync ${noop} ms, remove ${removal} ms`);
    } finally {
      ns.destroy();
    }
  });
}

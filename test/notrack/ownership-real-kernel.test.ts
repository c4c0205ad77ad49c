// Root only: on the real kernel, in a namespace per backend. A user's chain or
// table that happens to carry one of our names is refused by name and never
// touched (before: flushed on apply, then every restore failed); and sync +
// remove leave the complete `iptables-save`/`ip6tables-save` (or `nft list
// ruleset`) byte-identical, counters aside, for both families.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotrackBackendName, NotrackDesired } from '../../src/kernel/notrack/backend.js';
import { createNotrackBackend } from '../../src/kernel/notrack/detect.js';
import { CreatedObjectsFile } from '../../src/reconcile/created-objects-file.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { realKernelSkipReason } from '../support/netns.js';
import { createNetns, notrackHostIn } from './netns.js';

interface Case {
  name: NotrackBackendName;
  tools: string[];
  /** The whole ruleset as the user's tools print it. */
  snapshot: string;
  /** A user's own rules in every base chain we use, both families (so the tables and base chains are there before us). */
  seed: string;
  /** The user's object with our name, and what the refusal must name. */
  collide: string;
  named: RegExp;
}

const ipt = (mode: 'nft' | 'legacy'): Case => ({
  name: `iptables-${mode}`,
  tools: ['iptables', 'ip6tables'].flatMap((t) => [`${t}-${mode}-save`, `${t}-${mode}-restore`, `${t}-${mode}`]),
  snapshot: `iptables-${mode}-save; ip6tables-${mode}-save`,
  seed: ['iptables', 'ip6tables']
    .flatMap((t) => [
      `${t}-${mode} -t raw -A PREROUTING -p udp --dport 9 -j CT --notrack`,
      `${t}-${mode} -t raw -A OUTPUT -p udp --dport 9 -j CT --notrack`,
      `${t}-${mode} -A INPUT -p tcp --dport 22 -j ACCEPT`,
    ])
    .join('\n'),
  collide: [
    `iptables-${mode} -t raw -N CTOP-NOTRACK-PRE`,
    `iptables-${mode} -t raw -A CTOP-NOTRACK-PRE -s 198.51.100.7/32 -j CT --notrack`,
    `iptables-${mode} -t raw -A PREROUTING -j CTOP-NOTRACK-PRE`,
  ].join('\n'),
  named: /raw chain CTOP-NOTRACK-PRE already exists and is not ours/,
});

const CASES: Case[] = [
  ipt('nft'),
  ipt('legacy'),
  {
    name: 'nftables',
    tools: ['nft'],
    snapshot: 'nft list ruleset',
    seed: [
      'nft add table inet user',
      `nft add chain inet user raw "{ type filter hook prerouting priority raw; }"`,
      'nft add rule inet user raw ip saddr 192.0.2.0/24 notrack',
    ].join('\n'),
    collide: [
      'nft add table inet conntrack_operator',
      `nft add chain inet conntrack_operator mine "{ type filter hook prerouting priority raw; }"`,
      'nft add rule inet conntrack_operator mine ip saddr 198.51.100.7 notrack',
    ].join('\n'),
    named: /nftables table inet conntrack_operator already exists and is not ours/,
  },
];

const DESIRED: NotrackDesired = {
  acceptUntracked: true,
  rules: [
    { name: 'loopback', interface: 'lo', direction: 'both' },
    {
      name: 'web',
      protocol: 'tcp',
      ports: [
        { from: 80, to: 80 },
        { from: 8000, to: 8100 },
      ],
      direction: 'inbound',
    },
    { name: 'lan', sources: ['192.168.0.0/16', 'fd00::/8'], direction: 'inbound' },
  ],
};

function withoutCounters(text: string): string {
  return text
    .replace(/^# (Generated|Completed|Warning).*\n/gm, '')
    .replace(/\[\d+:\d+\]/g, '[0:0]')
    .replace(/counter packets \d+ bytes \d+/g, 'counter');
}

for (const c of CASES) {
  const skip = realKernelSkipReason(['ip', ...c.tools]) ?? false;

  test(`${c.name}: a chain or table with our name is refused by name and left untouched`, { skip }, async () => {
    const ns = createNetns(`i15-own-${c.name.replace('iptables-', 'ipt')}`);
    try {
      ns.sh(c.seed);
      ns.sh(c.collide);
      const before = withoutCounters(ns.sh(c.snapshot));
      const backend = createNotrackBackend(c.name, notrackHostIn(ns.name));
      await assert.rejects(backend.sync(DESIRED), c.named);
      await assert.rejects(backend.check(DESIRED), c.named);
      assert.equal(withoutCounters(ns.sh(c.snapshot)), before, 'a refused sync writes nothing');
      await backend.remove(); // nothing of ours: succeeds, touches nothing
      assert.equal(withoutCounters(ns.sh(c.snapshot)), before, 'remove leaves the user object');
    } finally {
      ns.destroy();
    }
  });

  test(`${c.name}: sync then remove leaves the whole ruleset of both families byte-identical`, { skip }, async () => {
    const ns = createNetns(`i15-ident-${c.name.replace('iptables-', 'ipt')}`);
    try {
      ns.sh(c.seed);
      const before = withoutCounters(ns.sh(c.snapshot));
      const backend = createNotrackBackend(c.name, notrackHostIn(ns.name));
      await backend.sync(DESIRED);
      assert.notEqual(withoutCounters(ns.sh(c.snapshot)), before, 'the sync changed something');
      assert.equal((await backend.check(DESIRED)).inSync, true);
      await backend.remove();
      assert.equal(withoutCounters(ns.sh(c.snapshot)), before);
    } finally {
      ns.destroy();
    }
  });
}

// iptables-nft creates the nftables tables and base chains a restore names (ip filter, ip6 raw,
// raw OUTPUT, ...). They are recorded in the state dir and removed with our chains by another
// process (a later `restore`), unless someone has come to use them meanwhile.
const nftSkip = realKernelSkipReason(['ip', 'nft', 'iptables-nft-save', 'iptables-nft-restore', 'ip6tables-nft-save', 'ip6tables-nft-restore']) ?? false;
const EVERYTHING = 'iptables-nft-save; ip6tables-nft-save; nft list ruleset';

test('iptables-nft: tables and base chains our sync created are removed by a later process, byte-identical', { skip: nftSkip }, async () => {
  const ns = createNetns('i15-created');
  const state = await mkdtemp(join(tmpdir(), 'ctop-i15-created-'));
  try {
    ns.sh('iptables-nft -t raw -A PREROUTING -s 192.0.2.0/24 -j CT --notrack'); // ip raw with PREROUTING only
    const before = withoutCounters(ns.sh(EVERYTHING));
    await createNotrackBackend('iptables-nft', notrackHostIn(ns.name), new CreatedObjectsFile(state)).sync(DESIRED);
    assert.match(ns.sh('nft list tables'), /ip6 filter/);
    await createNotrackBackend('iptables-nft', notrackHostIn(ns.name), new CreatedObjectsFile(state)).remove();
    assert.equal(withoutCounters(ns.sh(EVERYTHING)), before);
    assert.deepEqual(await new CreatedObjectsFile(state).load(), []);
  } finally {
    ns.destroy();
    await rm(state, { recursive: true, force: true });
  }
});

test('iptables-nft: a created base chain someone has put a rule in since stays', { skip: nftSkip }, async () => {
  const ns = createNetns('i15-created-used');
  const state = await mkdtemp(join(tmpdir(), 'ctop-i15-created-'));
  try {
    const backend = createNotrackBackend('iptables-nft', notrackHostIn(ns.name), new CreatedObjectsFile(state));
    await backend.sync(DESIRED);
    ns.sh('ip6tables-nft -A INPUT -p tcp --dport 22 -j ACCEPT');
    await backend.remove();
    assert.match(ns.sh('ip6tables-nft-save'), /-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT/);
    assert.doesNotMatch(ns.sh(EVERYTHING), /CTOP-|conntrack-operator/);
    assert.doesNotMatch(ns.sh('nft list tables'), /ip6 raw/, 'the unused ones are gone');
  } finally {
    ns.destroy();
    await rm(state, { recursive: true, force: true });
  }
});

// Reading our chains creates no table: a save of a legacy table that does not exist would create it
// (the kernel instantiates it from the loaded module), so only the legacy tables listed in
// /proc/net are saved; iptables-nft-save prints a missing table empty and creates nothing.
for (const [mode, tables] of [
  ['nft', 'nft list tables'],
  ['legacy', 'cat /proc/net/ip_tables_names /proc/net/ip6_tables_names 2>/dev/null || true'],
] as const) {
  const skip = realKernelSkipReason(['ip', 'nft', `iptables-${mode}`, `iptables-${mode}-save`, `ip6tables-${mode}-save`]) ?? false;
  test(`iptables-${mode}: check and remove where only filter exists create no table`, { skip }, async () => {
    const ns = createNetns(`save-tables-${mode}`);
    try {
      ns.sh(`iptables-${mode} -A INPUT -p tcp --dport 22 -j ACCEPT`);
      const before = ns.sh(tables);
      assert.match(before, /filter/);
      const backend = createNotrackBackend(`iptables-${mode}`, notrackHostIn(ns.name));
      assert.equal((await backend.check(DESIRED)).inSync, false, 'nothing of ours yet');
      await backend.remove();
      assert.equal(ns.sh(tables), before);
    } finally {
      ns.destroy();
    }
  });
}

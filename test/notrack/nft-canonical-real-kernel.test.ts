// Root only: the nftables backend on the real kernel with sets nft prints
// differently from how we wrote them (unsorted, adjacent, overlapping,
// duplicate, IPv4-mapped IPv6): after one sync, check is in sync and a second
// sync writes nothing (before: "changed outside" and a rewrite every pass).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CommandResult, CommandRunner, ChunkStream, RunOptions } from '../../src/kernel/command-runner.js';
import type { NotrackDesired } from '../../src/kernel/notrack/backend.js';
import { NftablesBackend } from '../../src/kernel/notrack/nft-backend.js';
import { netnsRunner, realKernelSkipReason } from '../support/netns.js';
import { createNetns } from './netns.js';

const skip = realKernelSkipReason(['ip', 'nft']) ?? false;

const MESSY: NotrackDesired = {
  acceptUntracked: false,
  rules: [
    {
      name: 'messy',
      protocol: 'tcp',
      ports: [
        { from: 443, to: 443 },
        { from: 80, to: 80 },
        { from: 81, to: 90 },
      ],
      sources: ['10.0.1.0/24', '10.0.0.0/24', '192.168.3.7/32', '192.168.3.6/32', '172.16.0.0/12', '172.16.5.0/24'],
      direction: 'inbound',
    },
    { name: 'mapped', destinations: ['::ffff:1.2.3.4/128', '2001:db8::/33', '2001:db8:8000::/33'], direction: 'outbound' },
  ],
};

test('nftables: sets nft prints in its own order and merges are in sync after one sync', { skip }, async () => {
  const ns = createNetns('i15-nftset');
  try {
    const calls: string[] = [];
    const inner = netnsRunner(ns.name);
    const runner: CommandRunner = {
      run: (cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult> => {
        calls.push([cmd, ...args].join(' '));
        return inner.run(cmd, args, opts);
      },
      streamChunks: (cmd: string, args: string[]): ChunkStream => inner.streamChunks(cmd, args),
    };
    const backend = new NftablesBackend(runner);
    await backend.sync(MESSY);
    assert.deepEqual(await backend.check(MESSY), { inSync: true, missing: [], extra: [], ownedRules: 4 });
    calls.length = 0;
    await backend.sync(MESSY);
    assert.deepEqual(calls, ['nft list table inet conntrack_operator'], 'an in-sync pass writes nothing');
    // A real change is still seen.
    const fewer = { ...MESSY, rules: [{ ...MESSY.rules[0]!, sources: ['10.0.0.0/24'] }, MESSY.rules[1]!] };
    assert.equal((await backend.check(fewer)).inSync, false);
  } finally {
    ns.destroy();
  }
});

// Root only, the CLI refusing instead of doing harm. `apply` of a NOTRACK rule on interface "+", which iptables reads
// as every interface (iptables-save shows the rule with no -i at all), is
// refused by the broad-match guardrail: exit 1, nothing in the raw table.
// With allowBroadMatch it is applied (the opt-in still works). And `apply` next to a user chain
// that carries our name: exit 1 naming it, the chain untouched (before: exit 0, the chain flushed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execInOk, realKernelSkipReason, withNetns } from '../support/netns.js';
import { runCli } from './cli-support.js';

const skip = realKernelSkipReason(['ip', 'nft', 'iptables-nft-save', 'iptables-nft-restore']);

const policy = (allow: boolean) => `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: wild}
spec:
  notrack:
    - {name: everything, interface: "+", allowBroadMatch: ${allow}}
`;

test('apply of interface "+" is refused without allowBroadMatch: exit 1, nothing written', { skip, timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-i15-wild-'));
  try {
    await withNetns('i15-wild', async (ns) => {
      const file = join(dir, 'p.yaml');
      const args = (extra: string[] = []) => ['apply', '--policy', file, '--notrack-backend', 'iptables-nft', '--state-dir', join(dir, 'state'), ...extra];
      await writeFile(file, policy(false));
      const refused = await runCli(args(), { prefix: ['ip', 'netns', 'exec', ns] });
      assert.equal(refused.code, 1, refused.stdout + refused.stderr);
      assert.match(refused.stdout + refused.stderr, /"\+" is every interface.*allowBroadMatch: true/s);
      assert.doesNotMatch(await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']), /CTOP-/);

      await writeFile(file, policy(true));
      const allowed = await runCli(args(), { prefix: ['ip', 'netns', 'exec', ns] });
      assert.equal(allowed.code, 0, allowed.stdout + allowed.stderr);
      assert.match(await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']), /-A CTOP-NOTRACK-PRE -m comment --comment everything -j CT --notrack/);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('apply next to a user chain named like ours: exit 1 naming the chain, the chain untouched', { skip, timeout: 60_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-i15-taken-'));
  try {
    await withNetns('i15-taken', async (ns) => {
      await execInOk(ns, 'sh', ['-c', 'iptables-nft -t raw -N CTOP-NOTRACK-PRE && iptables-nft -t raw -A CTOP-NOTRACK-PRE -s 198.51.100.7/32 -j CT --notrack']);
      const before = await execInOk(ns, 'iptables-nft-save', ['-t', 'raw']);
      const file = join(dir, 'p.yaml');
      await writeFile(
        file,
        'apiVersion: conntrack.io/v1alpha1\nkind: ConntrackPolicy\nmetadata: {name: taken}\nspec:\n  notrack:\n    - {name: loopback, interface: lo}\n',
      );
      const r = await runCli(['apply', '--policy', file, '--notrack-backend', 'iptables-nft', '--state-dir', join(dir, 'state')], {
        prefix: ['ip', 'netns', 'exec', ns],
      });
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /raw chain CTOP-NOTRACK-PRE already exists and is not ours/);
      const strip = (t: string) => t.replace(/^#.*\n/gm, '').replace(/\[\d+:\d+\]/g, '');
      assert.equal(strip(await execInOk(ns, 'iptables-nft-save', ['-t', 'raw'])), strip(before));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

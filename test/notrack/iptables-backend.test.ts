import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesBackend } from '../../src/kernel/notrack/iptables-backend.js';
import { FakeRunner, ok } from './fake-runner.js';
import { fixture } from './fixtures.js';
import { SAMPLE_DESIRED } from './sample-desired.js';

const MODES = ['nft', 'legacy'] as const;

function savesOf(mode: (typeof MODES)[number], v4: string, v6: string) {
  return {
    [`iptables-${mode}-save`]: ok(fixture(`iptables-${mode}-save.${v4}.txt`)),
    [`ip6tables-${mode}-save`]: ok(fixture(`ip6tables-${mode}-save.${v6}.txt`)),
  };
}

for (const mode of MODES) {
  test(`iptables-${mode} check: exactly one save per family, in sync with foreign rules around`, async () => {
    const runner = new FakeRunner(savesOf(mode, 'synced', 'synced'));
    const result = await new IptablesBackend(mode, runner).check(SAMPLE_DESIRED);
    assert.deepEqual(result, { inSync: true, missing: [], extra: [], ownedRules: 18 }); // 9 per family: 6 NOTRACK + 3 mirrored accepts
    assert.deepEqual(
      runner.calls.map((c) => [c.cmd, ...c.args].join(' ')),
      [`iptables-${mode}-save`, `ip6tables-${mode}-save`],
    );
  });

  test(`iptables-${mode} check: drift names the lines, per family`, async () => {
    const runner = new FakeRunner(savesOf(mode, 'drifted', 'synced'));
    const result = await new IptablesBackend(mode, runner).check(SAMPLE_DESIRED);
    assert.equal(result.inSync, false);
    assert.equal(result.missing.length, 2);
    assert.ok(result.missing.every((l) => l.startsWith('ipv4 ')));
    assert.deepEqual(result.extra, ['ipv4 raw: -A CTOP-NOTRACK-OUT -p udp -m udp --dport 9999 -j CT --notrack']);
  });

  test(`iptables-${mode} sync: in sync means one save per family and no restore`, async () => {
    const runner = new FakeRunner(savesOf(mode, 'synced', 'synced'));
    await new IptablesBackend(mode, runner).sync(SAMPLE_DESIRED);
    assert.equal(runner.calls.length, 2);
  });

  test(`iptables-${mode} sync: one --noflush restore per family that needs it`, async () => {
    const runner = new FakeRunner({
      ...savesOf(mode, 'foreign', 'synced'),
      [`iptables-${mode}-restore --noflush --wait=5`]: ok(),
    });
    await new IptablesBackend(mode, runner).sync(SAMPLE_DESIRED);
    const restores = runner.calls.filter((c) => c.cmd.endsWith('-restore'));
    assert.deepEqual(
      restores.map((c) => [c.cmd, ...c.args].join(' ')),
      [`iptables-${mode}-restore --noflush --wait=5`],
    );
    assert.match(restores[0]?.input ?? '', /^\*raw\n:CTOP-NOTRACK-PRE - \[0:0\]\n/);
  });
}

/** The foreign capture plus a user's own raw chain that happens to be called CTOP-NOTRACK-PRE (no marker rule in it). */
function withUserChain(mode: (typeof MODES)[number]): string {
  return fixture(`iptables-${mode}-save.foreign.txt`)
    .replace(/^(\*raw\n)/m, '$1:CTOP-NOTRACK-PRE - [0:0]\n')
    .replace(/^(COMMIT)/m, '-A PREROUTING -j CTOP-NOTRACK-PRE\n-A CTOP-NOTRACK-PRE -s 198.51.100.7/32 -j CT --notrack\n$1');
}

for (const mode of MODES) {
  test(`iptables-${mode}: a chain with our name but not our marker is refused by name, never flushed, and restore leaves it`, async () => {
    const restore = `iptables-${mode}-restore --noflush --wait=5`;
    const runner = new FakeRunner({
      ...savesOf(mode, 'foreign', 'foreign'),
      [`iptables-${mode}-save`]: ok(withUserChain(mode)),
      [restore]: ok(),
      [`ip6tables-${mode}-restore --noflush --wait=5`]: ok(),
    });
    const backend = new IptablesBackend(mode, runner);
    await assert.rejects(
      backend.sync(SAMPLE_DESIRED),
      /raw chain CTOP-NOTRACK-PRE already exists and is not ours \(no "-m comment --comment conntrack-operator" marker rule\): refusing to take it over/,
    );
    await assert.rejects(backend.check(SAMPLE_DESIRED), /raw chain CTOP-NOTRACK-PRE already exists and is not ours/);
    assert.deepEqual(
      runner.calls.filter((c) => c.cmd.endsWith('-restore')),
      [],
      'nothing written',
    );
    // Removing ours: the user's chain is not ours, so not named in any restore.
    await backend.remove();
    assert.ok(runner.calls.filter((c) => c.cmd.endsWith('-restore')).every((c) => !(c.input ?? '').includes('CTOP-NOTRACK-PRE')));
  });
}

test('sync: when the ipv6 restore fails, the ipv4 change is undone and the error names the command', async () => {
  let ipv4Saves = 0;
  const runner = new FakeRunner({
    // First save: before the change; second: after it, read again for the undo.
    'iptables-nft-save': () => ok(fixture(++ipv4Saves === 1 ? 'iptables-nft-save.foreign.txt' : 'iptables-nft-save.synced.txt')),
    'ip6tables-nft-save': ok(fixture('ip6tables-nft-save.foreign.txt')),
    'iptables-nft-restore --noflush --wait=5': ok(),
    'ip6tables-nft-restore --noflush --wait=5': { code: 2, stdout: '', stderr: 'ip6tables-restore: line 4 failed\n' },
  });
  await assert.rejects(new IptablesBackend('nft', runner).sync(SAMPLE_DESIRED), {
    name: 'CommandFailedError',
    message: 'ip6tables-nft-restore --noflush --wait=5 failed with exit code 2: ip6tables-restore: line 4 failed',
  });
  const restores = runner.calls.filter((c) => c.cmd.endsWith('-restore'));
  assert.deepEqual(
    restores.map((c) => c.cmd),
    ['iptables-nft-restore', 'ip6tables-nft-restore', 'iptables-nft-restore'],
  );
  const undo = restores.at(-1)?.input ?? '';
  assert.match(undo, /^-D PREROUTING -m comment --comment conntrack-operator -j CTOP-NOTRACK-PRE$/m);
  assert.match(undo, /^-X CTOP-ACCEPT-UNTRACKED$/m);
  assert.doesNotMatch(undo, /^-A /m);
});

test('sync: a restore that failed after committing raw is undone in that family too', async () => {
  let saves = 0;
  const runner = new FakeRunner({
    // The restore committed raw, then failed on filter: the re-read shows our raw chains.
    'iptables-legacy-save': () => ok(fixture(++saves === 1 ? 'iptables-legacy-save.foreign.txt' : 'iptables-legacy-save.synced.txt')),
    'iptables-legacy-restore --noflush --wait=5': (call) =>
      call.input?.includes('-A CTOP-NOTRACK-PRE') ? { code: 1, stdout: '', stderr: 'iptables-restore: line 12 failed\n' } : ok(),
  });
  await assert.rejects(new IptablesBackend('legacy', runner).sync(SAMPLE_DESIRED), /iptables-legacy-restore --noflush --wait=5 failed with exit code 1/);
  assert.deepEqual(
    runner.calls.map((c) => c.cmd),
    ['iptables-legacy-save', 'iptables-legacy-restore', 'iptables-legacy-save', 'iptables-legacy-restore'],
  );
  assert.match(runner.calls[3]?.input ?? '', /^-X CTOP-NOTRACK-PRE$/m);
});

test('sync: a failing ipv6 save after the ipv4 change undoes the ipv4 change', async () => {
  let saves = 0;
  const runner = new FakeRunner({
    'iptables-nft-save': () => ok(fixture(++saves === 1 ? 'iptables-nft-save.foreign.txt' : 'iptables-nft-save.synced.txt')),
    'ip6tables-nft-save': { code: 1, stdout: '', stderr: "ip6tables-save: can't initialize\n" },
    'iptables-nft-restore --noflush --wait=5': ok(),
  });
  await assert.rejects(new IptablesBackend('nft', runner).sync(SAMPLE_DESIRED), /ip6tables-nft-save failed with exit code 1/);
  assert.deepEqual(
    runner.calls.filter((c) => c.cmd.endsWith('-restore')).map((c) => c.input?.includes('-X CTOP-NOTRACK-PRE')),
    [false, true],
  );
});

test('remove: nothing of ours anywhere means saves only, no restore', async () => {
  const runner = new FakeRunner(savesOf('legacy', 'foreign', 'foreign'));
  await new IptablesBackend('legacy', runner).remove();
  assert.deepEqual(
    runner.calls.map((c) => c.cmd),
    ['iptables-legacy-save', 'ip6tables-legacy-save'],
  );
});

test('a failing save is an error with command, exit code and stderr', async () => {
  const runner = new FakeRunner({ 'iptables-nft-save': { code: 1, stdout: '', stderr: 'iptables-nft-save: Permission denied\n' } });
  await assert.rejects(
    new IptablesBackend('nft', runner).check(SAMPLE_DESIRED),
    /iptables-nft-save failed with exit code 1: iptables-nft-save: Permission denied/,
  );
});

test('sync: when the undo fails too, every family is still tried and the error names both failures', async () => {
  let saves = 0;
  let restores = 0;
  const runner = new FakeRunner({
    'iptables-nft-save': () => ok(fixture(++saves === 1 ? 'iptables-nft-save.foreign.txt' : 'iptables-nft-save.synced.txt')),
    'ip6tables-nft-save': () => ok(fixture('ip6tables-nft-save.foreign.txt')),
    // ipv4: applied, then its undo refused; ipv6: refused (and its undo tried all the same).
    'iptables-nft-restore --noflush --wait=5': () =>
      ++restores === 1 ? ok() : { code: 4, stdout: '', stderr: 'iptables-nft-restore: Resource temporarily unavailable\n' },
    'ip6tables-nft-restore --noflush --wait=5': { code: 2, stdout: '', stderr: 'ip6tables-restore: line 4 failed\n' },
  });
  await assert.rejects(new IptablesBackend('nft', runner).sync(SAMPLE_DESIRED), (err: Error) => {
    assert.match(
      err.message,
      /sync failed \(ip6tables-nft-restore .* line 4 failed\n?\) and undoing it failed too: ipv4: iptables-nft-restore .*Resource temporarily unavailable/,
    );
    return true;
  });
  // After the ipv4 undo failed, ipv6 was still re-read for its undo (it had nothing of ours left to take back).
  const after = runner.calls.slice(runner.calls.findIndex((c) => c.cmd === 'ip6tables-nft-restore') + 1).map((c) => c.cmd);
  assert.deepEqual(after, ['iptables-nft-save', 'iptables-nft-restore', 'ip6tables-nft-save']);
});

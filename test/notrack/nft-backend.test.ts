import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NftablesBackend } from '../../src/kernel/notrack/nft-backend.js';
import { nftDeleteScript, nftSyncScript } from '../../src/kernel/notrack/render-nft.js';
import { FakeRunner, ok } from '../support/fake-runner.js';
import { fixture } from './fixtures.js';
import { SAMPLE_DESIRED } from './sample-desired.js';

const LIST = 'nft list table inet conntrack_operator';
const APPLY = 'nft -f -';
const absent = { code: 1, stdout: '', stderr: fixture('nft-list-table.missing.stderr.txt') };

test('nftables check: one nft call, in sync on the captured table', async () => {
  const runner = new FakeRunner({ [LIST]: ok(fixture('nft-list-table.synced.txt')) });
  assert.deepEqual(await new NftablesBackend(runner).check(SAMPLE_DESIRED), { inSync: true, missing: [], extra: [], ownedRules: 8 });
  assert.equal(runner.calls.length, 1);
});

test('nftables check: a deleted rule is missing, a stray one extra', async () => {
  const runner = new FakeRunner({ [LIST]: ok(fixture('nft-list-table.drifted.txt')) });
  const result = await new NftablesBackend(runner).check(SAMPLE_DESIRED);
  assert.deepEqual(result.missing, ['notrack-pre: iifname "lo" notrack comment "loopback"']);
  assert.deepEqual(result.extra, ['notrack-out: udp dport 9999 notrack']);
  assert.equal(result.ownedRules, 8);
});

test('nftables check: no table yet means everything missing, not an error', async () => {
  const result = await new NftablesBackend(new FakeRunner({ [LIST]: absent })).check(SAMPLE_DESIRED);
  assert.equal(result.inSync, false);
  assert.equal(result.missing.length, 10);
  assert.equal(result.ownedRules, 0);
});

test('nftables check: any other nft failure is an error with command and stderr', async () => {
  const runner = new FakeRunner({ [LIST]: { code: 1, stdout: '', stderr: 'Error: Could not process rule: Operation not permitted\n' } });
  await assert.rejects(
    new NftablesBackend(runner).check(SAMPLE_DESIRED),
    /nft list table inet conntrack_operator failed with exit code 1: .*Operation not permitted/,
  );
});

test('nftables sync: one list, then one nft -f transaction only when out of sync', async () => {
  const drifted = new FakeRunner({ [LIST]: ok(fixture('nft-list-table.drifted.txt')), [APPLY]: ok() });
  await new NftablesBackend(drifted).sync(SAMPLE_DESIRED);
  assert.deepEqual(
    drifted.calls.map((c) => [c.cmd, ...c.args].join(' ')),
    [LIST, APPLY],
  );
  assert.equal(drifted.calls[1]?.input, nftSyncScript(SAMPLE_DESIRED));

  const synced = new FakeRunner({ [LIST]: ok(fixture('nft-list-table.synced.txt')) });
  await new NftablesBackend(synced).sync(SAMPLE_DESIRED);
  assert.equal(synced.calls.length, 1);
});

test('nftables remove: one transaction that deletes only our table', async () => {
  const runner = new FakeRunner({ [LIST]: ok(fixture('nft-list-table.synced.txt')), [APPLY]: ok() });
  await new NftablesBackend(runner).remove();
  assert.deepEqual(runner.calls.at(-1), { cmd: 'nft', args: ['-f', '-'], input: nftDeleteScript() });
});

// A user's table that happens to have our name: no `comment "conntrack-operator"` at table level.
const FOREIGN = fixture('nft-list-table.synced.txt').replace('\tcomment "conntrack-operator"\n', '');

test('nftables: a table with our name that is not ours is refused, never taken over', async () => {
  for (const [name, answer] of [
    ['foreign', ok(FOREIGN)],
    ['absent', absent],
  ] as const) {
    const runner = new FakeRunner({ [LIST]: answer, [APPLY]: ok() });
    const backend = new NftablesBackend(runner);
    if (name === 'foreign') {
      await assert.rejects(backend.sync(SAMPLE_DESIRED), /nftables table inet conntrack_operator already exists and is not ours/);
      await assert.rejects(backend.check(SAMPLE_DESIRED), /is not ours/);
    }
    // Nothing of ours wanted, or removing: the table is left as it is, no transaction at all.
    assert.deepEqual(await backend.check({ rules: [], acceptUntracked: false }), { inSync: true, missing: [], extra: [], ownedRules: 0 });
    await backend.sync({ rules: [], acceptUntracked: false });
    await backend.remove();
    assert.deepEqual(
      runner.calls.filter((c) => c.args[0] === '-f'),
      [],
      `${name}: no nft -f`,
    );
  }
});

test('nftables sync script: our table carries its marker comment', () => {
  assert.match(nftSyncScript(SAMPLE_DESIRED), /^table inet conntrack_operator \{\n  comment "conntrack-operator"\n/m);
});

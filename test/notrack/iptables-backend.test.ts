import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IptablesBackend, type IptablesFlavour } from '../../src/kernel/notrack/iptables-backend.js';
import { FakeRunner, ok, type Answer, type RecordedCall } from '../support/fake-runner.js';
import { iptablesSave, tableBlock, tablesIn } from './iptables-save.js';
import { fixture } from './fixtures.js';
import { SAMPLE_DESIRED } from './sample-desired.js';

const MODES = ['nft', 'legacy'] as const;
type Mode = (typeof MODES)[number];
/** A family's rules: a capture, or a function giving them as they are at the moment (a restore may change them). */
type Ruleset = string | (() => string);

const now = (r: Ruleset): string => (typeof r === 'string' ? r : r());
const line = (c: RecordedCall): string => [c.cmd, ...c.args].join(' ');
const saves = (tool: string, tables: string[]): string[] => tables.map((t) => `${tool} -t ${t}`);

/**
 * The backend over a runner whose saves answer per table from the two rulesets,
 * as the real tools do; under legacy it sees the tables they hold as
 * /proc/net/ip_tables_names (ip6_tables_names) lists them.
 */
function setup(mode: Mode, v4: Ruleset, v6: Ruleset, more: Record<string, Answer> = {}) {
  const runner = new FakeRunner({ [`iptables-${mode}-save`]: iptablesSave(v4), [`ip6tables-${mode}-save`]: iptablesSave(v6), ...more });
  const flavour: IptablesFlavour = mode === 'nft' ? { mode } : { mode, tables: async (family) => tablesIn(now(family === 'ipv4' ? v4 : v6)) };
  return { runner, backend: new IptablesBackend(flavour, runner) };
}

function captures(mode: Mode, v4: string, v6: string) {
  return setup(mode, fixture(`iptables-${mode}-save.${v4}.txt`), fixture(`ip6tables-${mode}-save.${v6}.txt`));
}

for (const mode of MODES) {
  test(`iptables-${mode} check: one save per family of each table our chains live in, in sync with foreign rules around`, async () => {
    const { runner, backend } = captures(mode, 'synced', 'synced');
    const result = await backend.check(SAMPLE_DESIRED);
    assert.deepEqual(result, { inSync: true, missing: [], extra: [], ownedRules: 18 }); // 9 per family: 6 NOTRACK + 3 mirrored accepts
    assert.deepEqual(runner.calls.map(line), [...saves(`iptables-${mode}-save`, ['raw', 'filter']), ...saves(`ip6tables-${mode}-save`, ['raw', 'filter'])]);
  });

  test(`iptables-${mode} check: drift names the lines, per family`, async () => {
    const { backend } = captures(mode, 'drifted', 'synced');
    const result = await backend.check(SAMPLE_DESIRED);
    assert.equal(result.inSync, false);
    assert.equal(result.missing.length, 2);
    assert.ok(result.missing.every((l) => l.startsWith('ipv4 ')));
    assert.deepEqual(result.extra, ['ipv4 raw: -A CTOP-NOTRACK-OUT -p udp -m udp --dport 9999 -j CT --notrack']);
  });

  test(`iptables-${mode} sync: in sync means one save per table and family and no restore`, async () => {
    const { runner, backend } = captures(mode, 'synced', 'synced');
    await backend.sync(SAMPLE_DESIRED);
    assert.equal(runner.calls.length, 4);
    assert.ok(runner.calls.every((c) => c.cmd.endsWith('-save')));
  });

  test(`iptables-${mode} sync: one --noflush restore per family that needs it`, async () => {
    const { runner, backend } = setup(mode, fixture(`iptables-${mode}-save.foreign.txt`), fixture(`ip6tables-${mode}-save.synced.txt`), {
      [`iptables-${mode}-restore --noflush --wait=5`]: ok(),
    });
    await backend.sync(SAMPLE_DESIRED);
    const restores = runner.calls.filter((c) => c.cmd.endsWith('-restore'));
    assert.deepEqual(restores.map(line), [`iptables-${mode}-restore --noflush --wait=5`]);
    assert.match(restores[0]?.input ?? '', /^\*raw\n:CTOP-NOTRACK-PRE - \[0:0\]\n/);
  });
}

// The ip6 captures hold a raw table only. iptables-nft-save prints a missing table empty and creates
// nothing; iptables-legacy-save would create it (the kernel instantiates it), so it is not asked.
for (const [mode, v6Tables] of [
  ['nft', ['raw', 'filter']],
  ['legacy', ['raw']],
] as const) {
  test(`iptables-${mode}: the tables saved are raw and filter, never the whole ruleset${mode === 'legacy' ? ', and no legacy table that does not exist' : ''}`, async () => {
    const { runner, backend } = captures(mode, 'foreign', 'foreign');
    const result = await backend.check({ rules: [], acceptUntracked: false });
    assert.deepEqual(result, { inSync: true, missing: [], extra: [], ownedRules: 0 });
    assert.deepEqual(runner.calls.map(line), [...saves(`iptables-${mode}-save`, ['raw', 'filter']), ...saves(`ip6tables-${mode}-save`, [...v6Tables])]);
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
    const { runner, backend } = setup(mode, withUserChain(mode), fixture(`ip6tables-${mode}-save.foreign.txt`), {
      [`iptables-${mode}-restore --noflush --wait=5`]: ok(),
      [`ip6tables-${mode}-restore --noflush --wait=5`]: ok(),
    });
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
    // Removing ours: the user's chain is not ours, and nothing else is: no restore at all.
    await backend.remove();
    assert.deepEqual(
      runner.calls.filter((c) => c.cmd.endsWith('-restore')),
      [],
      "remove() touched the user's chain",
    );
  });
}

const FOREIGN4 = fixture('iptables-nft-save.foreign.txt');
const SYNCED4 = fixture('iptables-nft-save.synced.txt');

test('sync: when the ipv6 restore fails, the ipv4 change is undone and the error names the command', async () => {
  let v4 = FOREIGN4;
  const { runner, backend } = setup('nft', () => v4, fixture('ip6tables-nft-save.foreign.txt'), {
    'iptables-nft-restore --noflush --wait=5': () => {
      v4 = SYNCED4;
      return ok();
    },
    'ip6tables-nft-restore --noflush --wait=5': { code: 2, stdout: '', stderr: 'ip6tables-restore: line 4 failed\n' },
  });
  await assert.rejects(backend.sync(SAMPLE_DESIRED), {
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
  const foreign = fixture('iptables-legacy-save.foreign.txt');
  let v4 = foreign;
  const { runner, backend } = setup('legacy', () => v4, fixture('ip6tables-legacy-save.foreign.txt'), {
    // The restore committed raw, then failed on filter: the re-read shows our raw chains, filter as it was.
    'iptables-legacy-restore --noflush --wait=5': (call) => {
      if (!call.input?.includes('-A CTOP-NOTRACK-PRE')) return ok();
      v4 = `${tableBlock(fixture('iptables-legacy-save.synced.txt'), 'raw')}${tableBlock(foreign, 'filter')}`;
      return { code: 1, stdout: '', stderr: 'iptables-restore: line 12 failed\n' };
    },
  });
  await assert.rejects(backend.sync(SAMPLE_DESIRED), /iptables-legacy-restore --noflush --wait=5 failed with exit code 1/);
  const restore = 'iptables-legacy-restore --noflush --wait=5';
  const both = saves('iptables-legacy-save', ['raw', 'filter']);
  assert.deepEqual(runner.calls.map(line), [...both, restore, ...both, restore]);
  const undo = runner.calls[5]?.input ?? '';
  assert.match(undo, /^-X CTOP-NOTRACK-PRE$/m);
  assert.doesNotMatch(undo, /\*filter/, 'nothing of ours in filter: not named');
});

test('sync: a failing ipv6 save after the ipv4 change undoes the ipv4 change', async () => {
  let v4 = FOREIGN4;
  const { runner, backend } = setup('nft', () => v4, '', {
    'iptables-nft-restore --noflush --wait=5': (call) => {
      v4 = call.input?.includes('-X CTOP-NOTRACK-PRE') ? FOREIGN4 : SYNCED4;
      return ok();
    },
    'ip6tables-nft-save -t raw': { code: 1, stdout: '', stderr: "ip6tables-save: can't initialize\n" },
  });
  await assert.rejects(backend.sync(SAMPLE_DESIRED), /ip6tables-nft-save -t raw failed with exit code 1/);
  assert.deepEqual(
    runner.calls.filter((c) => c.cmd.endsWith('-restore')).map((c) => c.input?.includes('-X CTOP-NOTRACK-PRE')),
    [false, true],
  );
  assert.equal(v4, FOREIGN4, 'ipv4 back as it was');
});

test('remove: nothing of ours anywhere means saves only, no restore', async () => {
  const { runner, backend } = captures('legacy', 'foreign', 'foreign');
  await backend.remove();
  assert.deepEqual(runner.calls.map(line), [...saves('iptables-legacy-save', ['raw', 'filter']), ...saves('ip6tables-legacy-save', ['raw'])]);
});

test('a failing save is an error with command, exit code and stderr', async () => {
  const runner = new FakeRunner({ 'iptables-nft-save -t raw': { code: 1, stdout: '', stderr: 'iptables-nft-save: Permission denied\n' } });
  await assert.rejects(
    new IptablesBackend({ mode: 'nft' }, runner).check(SAMPLE_DESIRED),
    /iptables-nft-save -t raw failed with exit code 1: iptables-nft-save: Permission denied/,
  );
});

test('iptables-legacy: the legacy tables that exist cannot be read: an error, and nothing saved', async () => {
  const runner = new FakeRunner({ 'iptables-legacy-save': iptablesSave(fixture('iptables-legacy-save.foreign.txt')) });
  const unreadable = Object.assign(new Error("EACCES: permission denied, open '/proc/net/ip_tables_names'"), { code: 'EACCES' });
  const backend = new IptablesBackend({ mode: 'legacy', tables: () => Promise.reject(unreadable) }, runner);
  await assert.rejects(backend.check(SAMPLE_DESIRED), /EACCES: permission denied, open '\/proc\/net\/ip_tables_names'/);
  assert.deepEqual(runner.calls, []);
});

test('sync: when the undo fails too, every family is still tried and the error names both failures', async () => {
  let v4 = FOREIGN4;
  let restores = 0;
  const { runner, backend } = setup('nft', () => v4, fixture('ip6tables-nft-save.foreign.txt'), {
    // ipv4: applied, then its undo refused; ipv6: refused (and its undo tried all the same).
    'iptables-nft-restore --noflush --wait=5': () => {
      if (++restores > 1) return { code: 4, stdout: '', stderr: 'iptables-nft-restore: Resource temporarily unavailable\n' };
      v4 = SYNCED4;
      return ok();
    },
    'ip6tables-nft-restore --noflush --wait=5': { code: 2, stdout: '', stderr: 'ip6tables-restore: line 4 failed\n' },
  });
  await assert.rejects(backend.sync(SAMPLE_DESIRED), (err: Error) => {
    assert.match(
      err.message,
      /sync failed \(ip6tables-nft-restore .* line 4 failed\n?\) and undoing it failed too: ipv4: iptables-nft-restore .*Resource temporarily unavailable/,
    );
    return true;
  });
  // After the ipv4 undo failed, ipv6 was still re-read for its undo (it had nothing of ours left to take back).
  const after = runner.calls.slice(runner.calls.findIndex((c) => c.cmd === 'ip6tables-nft-restore') + 1).map(line);
  assert.deepEqual(after, [
    ...saves('iptables-nft-save', ['raw', 'filter']),
    'iptables-nft-restore --noflush --wait=5',
    ...saves('ip6tables-nft-save', ['raw', 'filter']),
  ]);
});

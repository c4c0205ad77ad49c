import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildRestore, diffIptables, ownedLines, parseIptablesSave } from '../../src/kernel/notrack/iptables-state.js';
import { renderIptablesChains } from '../../src/kernel/notrack/render-iptables.js';
import { fixture } from './fixtures.js';
import { SAMPLE_DESIRED } from './sample-desired.js';

const MODES = ['nft', 'legacy'] as const;
const WANT4 = renderIptablesChains(SAMPLE_DESIRED, 'ipv4');
const WANT6 = renderIptablesChains(SAMPLE_DESIRED, 'ipv6');

test('parseIptablesSave keeps chains and rules per table, in order', () => {
  const saved = parseIptablesSave(fixture('iptables-nft-save.foreign.txt'));
  assert.deepEqual([...saved.keys()], ['raw', 'filter']);
  assert.deepEqual([...(saved.get('raw')?.chains ?? [])], ['PREROUTING', 'OUTPUT', 'USER-RAW']);
  assert.deepEqual(saved.get('filter')?.rules.get('INPUT'), ['-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT', '-A INPUT -m conntrack --ctstate INVALID -j DROP']);
});

for (const mode of MODES) {
  test(`diffIptables (${mode}): the captured synced rulesets are in sync, foreign rules ignored`, () => {
    for (const [file, want, label] of [
      [`iptables-${mode}-save.synced.txt`, WANT4, 'ipv4'],
      [`ip6tables-${mode}-save.synced.txt`, WANT6, 'ipv6'],
    ] as const) {
      const diff = diffIptables(parseIptablesSave(fixture(file)), want, label);
      assert.deepEqual(diff.missing, [], file);
      assert.deepEqual(diff.extra, [], file);
      assert.equal(diff.ownedRules, 9, file); // 6 NOTRACK rules + 3 accepts mirroring the PREROUTING ones
    }
  });

  test(`diffIptables (${mode}): deleted rule, misplaced INPUT jump and stray rule are drift`, () => {
    const diff = diffIptables(parseIptablesSave(fixture(`iptables-${mode}-save.drifted.txt`)), WANT4, 'ipv4');
    assert.deepEqual(diff.missing, [
      'ipv4 raw: -A CTOP-NOTRACK-PRE -i lo -m comment --comment loopback -j CT --notrack',
      'ipv4 filter: -I INPUT 1 -m comment --comment conntrack-operator -j CTOP-ACCEPT-UNTRACKED',
    ]);
    assert.deepEqual(diff.extra, ['ipv4 raw: -A CTOP-NOTRACK-OUT -p udp -m udp --dport 9999 -j CT --notrack']);
  });

  test(`diffIptables (${mode}): nothing of ours on a foreign-only ruleset`, () => {
    const diff = diffIptables(parseIptablesSave(fixture(`iptables-${mode}-save.foreign.txt`)), new Map(), 'ipv4');
    assert.deepEqual(diff, { missing: [], extra: [], ownedRules: 0 });
  });
}

test('buildRestore from the foreign ruleset declares, fills and jumps to our chains only', () => {
  const input = buildRestore(parseIptablesSave(fixture('iptables-nft-save.foreign.txt')), WANT4);
  assert.equal(
    input,
    [
      '*raw',
      ':CTOP-NOTRACK-PRE - [0:0]',
      ':CTOP-NOTRACK-OUT - [0:0]',
      '-I PREROUTING 1 -m comment --comment conntrack-operator -j CTOP-NOTRACK-PRE',
      '-I OUTPUT 1 -m comment --comment conntrack-operator -j CTOP-NOTRACK-OUT',
      ...(WANT4.get('CTOP-NOTRACK-PRE') ?? []),
      ...(WANT4.get('CTOP-NOTRACK-OUT') ?? []),
      'COMMIT',
      '*filter',
      ':CTOP-ACCEPT-UNTRACKED - [0:0]',
      '-I INPUT 1 -m comment --comment conntrack-operator -j CTOP-ACCEPT-UNTRACKED',
      ...(WANT4.get('CTOP-ACCEPT-UNTRACKED') ?? []),
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.doesNotMatch(input, /USER-RAW|192\.0\.2|--dport 22/);
});

test('buildRestore on drift refills our chains and moves only the misplaced jump', () => {
  const input = buildRestore(parseIptablesSave(fixture('iptables-legacy-save.drifted.txt')), WANT4);
  const lines = input.split('\n');
  assert.ok(lines.includes('-D INPUT -m comment --comment conntrack-operator -j CTOP-ACCEPT-UNTRACKED'));
  assert.ok(lines.includes('-I INPUT 1 -m comment --comment conntrack-operator -j CTOP-ACCEPT-UNTRACKED'));
  assert.ok(!lines.some((l) => /^-[DI] (PREROUTING|OUTPUT)/.test(l)), 'raw jumps are in place and stay');
  assert.ok(lines.includes(':CTOP-NOTRACK-OUT - [0:0]'), 'declaring flushes the stray rule away');
});

test('buildRestore for removal deletes our jumps and chains, nothing else', () => {
  const input = buildRestore(parseIptablesSave(fixture('iptables-nft-save.synced.txt')), new Map());
  assert.equal(
    input,
    [
      '*raw',
      ':CTOP-NOTRACK-PRE - [0:0]',
      ':CTOP-NOTRACK-OUT - [0:0]',
      '-D PREROUTING -m comment --comment conntrack-operator -j CTOP-NOTRACK-PRE',
      '-D OUTPUT -m comment --comment conntrack-operator -j CTOP-NOTRACK-OUT',
      '-X CTOP-NOTRACK-PRE',
      '-X CTOP-NOTRACK-OUT',
      'COMMIT',
      '*filter',
      ':CTOP-ACCEPT-UNTRACKED - [0:0]',
      '-D INPUT -m comment --comment conntrack-operator -j CTOP-ACCEPT-UNTRACKED',
      '-X CTOP-ACCEPT-UNTRACKED',
      'COMMIT',
      '',
    ].join('\n'),
  );
  assert.equal(buildRestore(parseIptablesSave(fixture('iptables-nft-save.foreign.txt')), new Map()), '');
});

test('ownedLines of a synced ruleset is the desired set (the undo target)', () => {
  assert.deepEqual(ownedLines(parseIptablesSave(fixture('iptables-legacy-save.synced.txt'))), WANT4);
});

// 10^5 lines (the 32 rules x 32 sources x 32 destinations rendered 131,072): diff and restore
// input are built without spreading them into one call (before: "Maximum call stack size exceeded").
test('diffIptables and buildRestore take 150,000 lines without overflowing the stack', () => {
  const chain = 'CTOP-NOTRACK-PRE';
  const lines = Array.from(
    { length: 150_000 },
    (_, i) => `-A ${chain} -s 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32 -m comment --comment r -j CT --notrack`,
  );
  const wanted = new Map([[chain, [`-A ${chain} -m comment --comment conntrack-operator`, ...lines]]]);
  const foreign = parseIptablesSave(fixture('iptables-nft-save.foreign.txt'));
  const diff = diffIptables(foreign, wanted, 'ipv4');
  assert.equal(diff.missing.length, lines.length + 2); // the marker, every line, the jump
  const restore = buildRestore(foreign, wanted);
  assert.equal(restore.split('\n').filter((l) => l.startsWith(`-A ${chain} -s `)).length, lines.length);
});

// Fuzz: mutated captures through the parsers of what the kernel's tools
// print — conntrack table lines, iptables-save, nft list table. None throws
// or takes long, and whatever a mutated iptables-save shows, removing our
// rules names no chain that is not ours (a chain of ours carries our marker).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EntryParser } from '../../src/kernel/entry-parser.js';
import { buildRestore, ownedView, parseIptablesSave } from '../../src/kernel/notrack/iptables-state.js';
import { OWNED_CHAINS, markerLine } from '../../src/kernel/notrack/render-iptables.js';
import { nftTableIsOurs, parseNftTable } from '../../src/kernel/notrack/render-nft.js';
import { cases } from './seeded.js';

const fixture = (path: string) => readFileSync(new URL(`../${path}`, import.meta.url), 'utf8');
const COUNT = 400;
const BOUND_MS = 500;

function timed<T>(seed: number, fn: () => T): T {
  const started = performance.now();
  const out = fn();
  assert.ok(performance.now() - started < BOUND_MS, `seed ${seed}: over ${BOUND_MS} ms`);
  return out;
}

test(`conntrack table lines: ${COUNT} mutated captures, every line parsed or counted as malformed`, () => {
  const seeds = [fixture('fixtures/with-table/proc/self/net/nf_conntrack'), fixture('fixtures/with-table/conntrack-L-extended.txt')];
  for (const { seed, input } of cases(seeds, COUNT, 7000)) {
    const parser = new EntryParser();
    const lines = input.split('\n').filter((l) => l !== '');
    const entries = timed(seed, () => lines.map((l) => parser.parse(l)));
    assert.equal(parser.parsed + parser.malformed, lines.length, `seed ${seed}`);
    for (const e of entries) if (e) assert.ok(Number.isFinite(e.timeout) && typeof e.orig.src === 'string', `seed ${seed}`);
  }
});

test(`iptables-save: ${COUNT} mutated captures; removing ours never names a chain without our marker`, () => {
  const seeds = ['iptables-nft-save.synced.txt', 'iptables-legacy-save.drifted.txt', 'ip6tables-nft-save.synced.txt', 'iptables-legacy-save.kubelet.txt'].map(
    (f) => fixture(`notrack/fixtures/${f}`),
  );
  const owned = new Set(OWNED_CHAINS.map((c) => c.name));
  for (const { seed, input } of cases(seeds, COUNT, 9000)) {
    const saved = timed(seed, () => parseIptablesSave(input));
    const ours = new Set(OWNED_CHAINS.filter((c) => saved.get(c.table)?.rules.get(c.name)?.includes(markerLine(c.name))).map((c) => c.name));
    const restore = timed(seed, () => buildRestore(ownedView(saved).saved, new Map()));
    for (const line of restore.split('\n')) {
      const named = /^(?::|-X |-A |-I |-D )(\S+)/.exec(line)?.[1];
      if (named === undefined || !owned.has(named)) continue;
      assert.ok(ours.has(named), `seed ${seed}: restore names ${named}, which carries no marker:\n${restore}`);
    }
  }
});

test(`nft list table: ${COUNT} mutated captures parse without throwing`, () => {
  const seeds = ['nft-list-table.synced.txt', 'nft-list-table.drifted.txt', 'nft-list-ruleset.synced.txt'].map((f) => fixture(`notrack/fixtures/${f}`));
  for (const { seed, input } of cases(seeds, COUNT, 11000)) {
    const lines = timed(seed, () => parseNftTable(input));
    assert.ok(
      lines.every((l) => typeof l === 'string'),
      `seed ${seed}`,
    );
    assert.equal(typeof timed(seed, () => nftTableIsOurs(input)), 'boolean');
  }
});

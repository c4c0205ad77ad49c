import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarizeBatches, TableSummarizer, tcpTimeoutKey, type SummaryEntry } from '../../src/kernel/table-summary.js';
import { HeavyHitters } from '../../src/kernel/top-k.js';
import { EntryParser } from '../../src/kernel/entry-parser.js';
import { readConntrackSysctls } from '../../src/kernel/sysctls.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';

function entry(over: Partial<SummaryEntry> & { src?: string; dst?: string }): SummaryEntry {
  return {
    l3: over.l3 ?? 'ipv4',
    l4: over.l4 ?? 'tcp',
    timeout: over.timeout ?? 100,
    state: over.state === undefined ? 'ESTABLISHED' : over.state,
    orig: { src: over.src ?? '10.0.0.1', dst: over.dst ?? '10.0.0.2' },
    flags: over.flags ?? { assured: false, unreplied: false },
  };
}

async function* inBatches<T>(items: T[], size: number): AsyncGenerator<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

test("the with-table capture: the same counts as the field notes' awk over the same lines", async () => {
  const lines = fixtureText('with-table', 'conntrack-L-extended.txt')
    .split('\n')
    .filter((l) => l !== '');
  const { kernel, paths } = loadFixtureTree('with-table');
  const { values: sysctls } = await readConntrackSysctls(fakeHost(kernel, paths));
  const parser = new EntryParser();
  const got = await summarizeBatches(
    inBatches(
      lines.map((l) => parser.parse(l)!),
      5,
    ),
    { sysctls },
  );
  // The oracle: awk '{print $3}' and '$3=="tcp" {print $6}' over the same text.
  const fields = lines.map((l) => l.trim().split(/\s+/));
  assert.deepEqual(got.byProtocol, countBy(fields.map((f) => f[2]!)));
  assert.deepEqual(got.tcpStates, countBy(fields.filter((f) => f[2] === 'tcp').map((f) => f[5]!)));
  assert.deepEqual(got.byL3, countBy(fields.map((f) => f[0]!)));
  assert.deepEqual(got.flags, {
    assured: lines.filter((l) => l.includes('[ASSURED]')).length,
    unreplied: lines.filter((l) => l.includes('[UNREPLIED]')).length,
  });
  assert.equal(got.total, 23);
  assert.deepEqual(got.loopback, { count: 23, share: 1 }); // the namespace only had loopback traffic
  assert.deepEqual(got.topSources[0], { address: '127.0.0.1', count: fields.filter((f) => f.find((x) => x.startsWith('src=')) === 'src=127.0.0.1').length });
  assert.deepEqual(got.topAccuracy.sources, { exact: true, errorBound: 0 });
  // The namespace had time_wait raised to 3000 s and the entries were a second old: none idle long.
  assert.equal(got.idleByTcpState.TIME_WAIT!.timeoutSeconds, 3000);
  assert.equal(got.idleByTcpState.TIME_WAIT!.entries, got.tcpStates.TIME_WAIT);
  assert.ok(got.idleByTcpState.TIME_WAIT!.idleLongerThan.every((c) => c.count === 0));
});

test('idle under lower timeouts: currentTimeout - remaining, per candidate below the current timeout', () => {
  const s = new TableSummarizer({
    sysctls: { nf_conntrack_tcp_timeout_established: 432000, nf_conntrack_tcp_timeout_time_wait: 120, nf_conntrack_tcp_timeout_syn_sent: 120 },
  });
  for (const remaining of [431999, 432000 - 700, 432000 - 4000, 432000 - 100000, 0]) s.add(entry({ timeout: remaining }));
  for (const remaining of [119, 100, 50]) s.add(entry({ state: 'TIME_WAIT', timeout: remaining }));
  s.add(entry({ state: 'SYN_SENT2', timeout: 1 }));
  s.add(entry({ state: 'NONE', timeout: 1 })); // no nf_conntrack_tcp_timeout_none: no idle figures
  s.add(entry({ l4: 'udp', state: null, timeout: 1 }));
  const got = s.result().idleByTcpState;
  assert.deepEqual(got.ESTABLISHED, {
    timeoutSeconds: 432000,
    entries: 5,
    idleLongerThan: [
      { seconds: 10, count: 4 },
      { seconds: 30, count: 4 },
      { seconds: 60, count: 4 },
      { seconds: 120, count: 4 },
      { seconds: 300, count: 4 },
      { seconds: 600, count: 4 },
      { seconds: 3600, count: 3 },
      { seconds: 86400, count: 2 },
    ],
  });
  assert.deepEqual(got.TIME_WAIT, {
    timeoutSeconds: 120,
    entries: 3,
    idleLongerThan: [
      { seconds: 10, count: 2 },
      { seconds: 30, count: 1 },
      { seconds: 60, count: 1 },
    ],
  });
  assert.equal(got.SYN_SENT2!.timeoutSeconds, 120);
  assert.deepEqual(Object.keys(got).sort(), ['ESTABLISHED', 'SYN_SENT2', 'TIME_WAIT']);
  assert.equal(tcpTimeoutKey('CLOSE_WAIT'), 'nf_conntrack_tcp_timeout_close_wait');
});

test('loopback share: 127.0.0.0/8 or ::1 on either side of the original direction', () => {
  const s = new TableSummarizer({ sysctls: {} });
  s.add(entry({ src: '127.0.0.1', dst: '127.0.0.53' }));
  s.add(entry({ src: '10.0.0.1', dst: '127.1.2.3' }));
  s.add(entry({ l3: 'ipv6', src: '::1', dst: 'fd00::1' }));
  s.add(entry({ src: '10.0.0.1', dst: '10.127.0.1' }));
  s.add(entry({ l3: 'ipv6', src: 'fd00::1', dst: 'fd00::2' }));
  assert.deepEqual(s.result().loopback, { count: 3, share: 0.6 });
});

test('top sources: exact while distinct keys fit, ties ordered by address', () => {
  const s = new TableSummarizer({ sysctls: {}, topN: 3, exactKeys: 10 });
  for (const [src, n] of [
    ['10.0.0.3', 5],
    ['10.0.0.1', 2],
    ['10.0.0.2', 2],
    ['10.0.0.4', 1],
  ] as const) {
    for (let i = 0; i < n; i++) s.add(entry({ src }));
  }
  const got = s.result();
  assert.deepEqual(got.topSources, [
    { address: '10.0.0.3', count: 5 },
    { address: '10.0.0.1', count: 2 },
    { address: '10.0.0.2', count: 2 },
  ]);
  assert.deepEqual(got.topDestinations, [{ address: '10.0.0.2', count: 10 }]);
  assert.deepEqual(got.topAccuracy.sources, { exact: true, errorBound: 0 });
  assert.deepEqual(JSON.parse(JSON.stringify(got)), got, 'JSON-able');
});

test('heavy hitters beyond capacity: never under-counts, over-count within the bound, heavy keys all found', () => {
  const sketchKeys = 500;
  const hh = new HeavyHitters({ exactKeys: 5000, sketchKeys });
  const truth = new Map<string, number>();
  // 20 heavy keys (1000..3000 hits) among 100,000 keys seen once, interleaved.
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const stream: string[] = [];
  for (let h = 0; h < 20; h++) for (let i = 0; i < 1000 + h * 100; i++) stream.push(`heavy-${h}`);
  for (let i = 0; i < 100_000; i++) stream.push(`once-${i}`);
  for (let i = stream.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [stream[i], stream[j]] = [stream[j]!, stream[i]!];
  }
  for (const k of stream) {
    hh.add(k);
    truth.set(k, (truth.get(k) ?? 0) + 1);
  }
  const got = hh.top(20);
  assert.equal(got.exact, false);
  assert.equal(got.total, stream.length);
  assert.ok(got.errorBound <= stream.length / sketchKeys, `bound ${got.errorBound} <= N/m`);
  for (const item of got.items) {
    const t = truth.get(item.key)!;
    assert.ok(item.count >= t, `${item.key}: ${item.count} >= ${t}`);
    assert.ok(item.count - t <= item.maxOverestimate && item.maxOverestimate <= got.errorBound, item.key);
  }
  assert.deepEqual(got.items.map((i) => i.key).sort(), Array.from({ length: 20 }, (_, h) => `heavy-${h}`).sort());
  assert.throws(() => new HeavyHitters({ exactKeys: 0, sketchKeys: 1 }), /exactKeys/);
});

test('bad options name the field', () => {
  assert.throws(() => new TableSummarizer({ sysctls: {}, topN: -1 }), /topN/);
});

test('top sources past the exact cap: the sketch takes over, flagged inexact, bound exposed', () => {
  const s = new TableSummarizer({ sysctls: {}, topN: 1, exactKeys: 100, sketchKeys: 10 });
  for (let i = 0; i < 1000; i++) {
    s.add(entry({ src: `10.1.${i >> 8}.${i & 255}` }));
    if (i % 5 === 0) s.add(entry({ src: '192.0.2.7' }));
  }
  const got = s.result();
  assert.equal(got.topAccuracy.sources.exact, false);
  assert.ok(got.topAccuracy.sources.errorBound <= got.total / 10, `${got.topAccuracy.sources.errorBound}`);
  assert.equal(got.topSources[0]!.address, '192.0.2.7');
  assert.ok(got.topSources[0]!.count >= 200 && got.topSources[0]!.count <= 200 + got.topAccuracy.sources.errorBound);
});

// NatGuard: which NOTRACK rules may be applied, from a reading of the node's
// NAT rules; and the reconciler withholding (and withdrawing) what overlaps.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseIptablesNat } from '../../src/kernel/nat/parse-iptables-nat.js';
import type { NatReading, NatRulesSource } from '../../src/kernel/nat/nat-reader.js';
import type { NatTable } from '../../src/kernel/nat/nat-rules.js';
import type { DesiredState, DesiredNotrackRule } from '../../src/policy/types.js';
import { NatGuard } from '../../src/reconcile/nat-guard.js';
import { MemoryBaselineStore } from '../../src/reconcile/baseline-store.js';
import { Reconciler } from '../../src/reconcile/reconciler.js';
import { readObservedState } from '../../src/kernel/observed-state.js';
import { FakeNotrackBackend } from '../support/fake-notrack.js';
import { fakeHost } from '../support/fake-host.js';
import { conntrackKernel, paths } from './kernel-fixture.js';

const KUBE_PROXY = parseIptablesNat(
  readFileSync(new URL('../fixtures/kube-proxy-nat/iptables-mode.nat.rules', import.meta.url), 'utf8'),
  'ipv4',
  'iptables-nft',
).table!;
const LOCAL = { cidrs: ['127.0.0.0/8', '192.168.77.10/32', '::1/128'] };
const lo: DesiredNotrackRule = { name: 'lo', interface: 'lo', direction: 'both' };
const metrics: DesiredNotrackRule = {
  name: 'metrics',
  protocol: 'tcp',
  ports: [{ from: 9100, to: 9100 }],
  destinations: ['192.168.77.10/32'],
  direction: 'inbound',
};

function reading(tables: NatTable[], over: Partial<NatReading> = {}): NatReading {
  return { key: tables.map((t) => t.chains.size).join(','), tables: () => tables, local: LOCAL, sources: {}, costMs: 0, ...over };
}

/** A guard on a fake clock and CPU meter; every test reads afresh unless it says otherwise. */
function guardOn(source: NatRulesSource, clock = { now: 0, cpu: 0 }) {
  return new NatGuard(source, { clock: () => clock.now, cpuMs: () => clock.cpu });
}

/** A source whose next reading the test sets, counting reads. */
class Source implements NatRulesSource {
  reads = 0;
  constructor(public next: NatReading | Error) {}
  async read(): Promise<NatReading> {
    this.reads++;
    if (this.next instanceof Error) throw this.next;
    return this.next;
  }
}

describe('NatGuard', () => {
  it('withholds the rule that overlaps, allows the other', async () => {
    const j = await guardOn(new Source(reading([KUBE_PROXY]))).judge([lo, metrics]);
    assert.deepEqual(j.allowed, [metrics]);
    assert.deepEqual(
      j.withheld.map((w) => [w.rule, w.reason, w.overlaps?.count]),
      [['lo', 'NatOverlap', 5]],
    );
    assert.match(
      j.withheld[0]!.message,
      /^NOTRACK rule lo withheld: it would untrack packets that DNAT in KUBE-SEP-\S+: .* \(kube-proxy, "default\/web-lb:https"\), reached by KUBE-NODEPORTS: -d 127\.0\.0\.0\/8 -p tcp -m tcp --dport 30443/,
    );
  });

  it('no rule asked: nothing read', async () => {
    const source = new Source(reading([KUBE_PROXY]));
    assert.deepEqual(await guardOn(source).judge([]), { allowed: [], withheld: [] });
    assert.equal(source.reads, 0);
  });

  const unreadable: Array<[string, NatReading | Error, RegExp]> = [
    [
      'a source that cannot be read',
      reading([], { unreadable: 'iptables-nft-save -t nat failed (exit 1): denied' }),
      /could not be read, .*\(iptables-nft-save -t nat failed \(exit 1\): denied\)/,
    ],
    ['a reader that throws', new Error('spawn EACCES'), /\(reading them failed: spawn EACCES\)/],
    [
      'a ruleset past what is analysed',
      reading([
        {
          source: 'iptables-legacy',
          family: 'ipv4',
          name: 'nat',
          chains: new Map(
            Array.from({ length: 80 }, (_, i) => [
              `C${i}`,
              {
                name: `C${i}`,
                ...(i === 0 ? { hook: 'output' as const } : {}),
                rules: [{ text: `-j C${i + 1}`, matches: [], actions: [{ kind: 'jump' as const, chain: `C${i + 1}` }] }],
              },
            ]),
          ),
        },
      ]),
      /cannot be analysed: .*chain C65 is reached through more than 64 jumps/,
    ],
  ];
  for (const [name, next, says] of unreadable) {
    it(`${name}: every rule withheld, saying why`, async () => {
      const j = await guardOn(new Source(next)).judge([lo, metrics]);
      assert.deepEqual(j.allowed, []);
      assert.deepEqual(
        j.withheld.map((w) => [w.rule, w.reason]),
        [
          ['lo', 'NatRulesUnreadable'],
          ['metrics', 'NatRulesUnreadable'],
        ],
      );
      assert.match(j.withheld[0]!.message, says);
    });
  }

  it('the same reading and rules: the same judgement, not worked out again; new rules or a new reading: again', async () => {
    const source = new Source(reading([KUBE_PROXY]));
    const guard = guardOn(source);
    const first = await guard.judge([lo, metrics]);
    assert.equal(await guard.judge([lo, metrics]), first);
    const fewer = await guard.judge([metrics]);
    assert.notEqual(fewer, first);
    assert.deepEqual(fewer.withheld, []);
    source.next = reading([]);
    assert.deepEqual((await guard.judge([lo, metrics])).withheld, []);
  });
});

describe('NatGuard: cost', () => {
  it('reads every pass while a check is cheap; after a costly one, waits so that checks stay within 1 s of CPU a minute', async () => {
    const clock = { now: 0, cpu: 0 };
    const source = new Source(reading([], { costMs: 10 }));
    const guard = guardOn(source, clock);
    await guard.judge([lo]);
    clock.now += 1000;
    await guard.judge([lo]);
    assert.equal(source.reads, 2, '10 ms: due again after 0.6 s');
    // A costly reading: 1.5 s of tools, 0.5 s of our own (parsing, comparing) = 2 s.
    source.next = reading([KUBE_PROXY], { costMs: 1500 });
    const read = source.read.bind(source);
    source.read = async () => ((clock.cpu += 500), read());
    clock.now += 1000;
    const costly = await guard.judge([lo]);
    assert.equal(source.reads, 3);
    assert.deepEqual(
      costly.withheld.map((w) => w.rule),
      ['lo'],
    );
    source.next = reading([]);
    clock.now += 119_000;
    assert.equal(await guard.judge([lo]), costly, 'the last judgement stands for 2 s x 60 = 120 s');
    assert.equal(source.reads, 3);
    // Other rules are judged on the last reading meanwhile.
    assert.deepEqual((await guard.judge([metrics])).withheld, []);
    assert.equal(source.reads, 3);
    clock.now += 1000;
    assert.deepEqual((await guard.judge([lo])).withheld, []);
    assert.equal(source.reads, 4);
  });
});

describe('the reconciler with a NatGuard', () => {
  const policy: DesiredState = { sysctls: {}, notrack: [lo, metrics], acceptUntracked: false };

  function setUp() {
    const host = fakeHost(conntrackKernel(), paths);
    const backend = new FakeNotrackBackend();
    const source = new Source(reading([]));
    const reconciler = new Reconciler({
      observe: () => readObservedState(host),
      host,
      backend,
      baselineStore: new MemoryBaselineStore(),
      natGuard: guardOn(source),
    });
    return { backend, source, reconciler };
  }

  it('applies both rules while no NAT rule overlaps; withdraws lo in the pass that sees the NodePort, keeps metrics', async () => {
    const { backend, source, reconciler } = setUp();
    const first = await reconciler.reconcile(policy, 'Enforce');
    assert.deepEqual(first.withheld, []);
    assert.deepEqual(
      backend.current?.rules.map((r) => r.name),
      ['lo', 'metrics'],
    );
    source.next = reading([KUBE_PROXY]);
    const second = await reconciler.reconcile(policy, 'Enforce');
    assert.deepEqual(
      second.withheld.map((w) => w.rule),
      ['lo'],
    );
    assert.equal(second.execution?.ok, true);
    assert.deepEqual(
      backend.current?.rules.map((r) => r.name),
      ['metrics'],
    );
    assert.equal(second.inSync, true, 'in sync with what may be applied');
    // And back when the NAT rule goes.
    source.next = reading([]);
    await reconciler.reconcile(policy, 'Enforce');
    assert.deepEqual(
      backend.current?.rules.map((r) => r.name),
      ['lo', 'metrics'],
    );
  });

  it('DryRun plans without the withheld rule and reports it', async () => {
    const { backend, source, reconciler } = setUp();
    source.next = reading([KUBE_PROXY]);
    const r = await reconciler.reconcile(policy, 'DryRun');
    assert.equal(backend.current, null);
    assert.deepEqual(
      r.withheld.map((w) => w.rule),
      ['lo'],
    );
    const sync = r.plan.actions.find((a) => a.kind === 'notrack-sync');
    assert.deepEqual(sync?.kind === 'notrack-sync' && sync.to.rules.map((x) => x.name), ['metrics']);
  });
});

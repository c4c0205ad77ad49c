// The leader elector against an in-memory Lease that behaves like the API
// server's (resourceVersion, 409 on a stale one, AlreadyExists on create), on a
// fake clock that also runs the elector's timers: no real waiting.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, type V1Lease } from '@kubernetes/client-node';
import { DEFAULT_LEASE, LeaderElector, type LeaseApi } from '../../src/controller/leader-election.js';
import { FakeClock, T0 } from './fake-clock.js';
import { silentLog } from '../support/silent-log.js';

const NS = 'conntrack-system';
const NAME = 'conntrack-operator-controller';
const apiError = (code: number, reason: string) => new ApiException(code, reason, { kind: 'Status', code, reason }, {});

/** One Lease as the API server keeps it. `mode` makes every call fail or hang (until unhang()). */
class FakeLeases implements LeaseApi {
  lease: V1Lease | null = null;
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  /** With mode 'hang': only this method hangs. */
  hangOnly: keyof LeaseApi | null = null;
  calls = 0;
  inflight = 0;
  maxInflight = 0;
  conflicts = 0;
  private rv = 100;
  private hung: (() => void)[] = [];

  /** Another replica's write: a new record and resourceVersion. */
  put(holderIdentity: string, renewTime: number, leaseDurationSeconds = 15, leaseTransitions = 3): void {
    const t = new Date(renewTime);
    this.lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: NAME, namespace: NS, resourceVersion: String(++this.rv) },
      spec: { holderIdentity, leaseDurationSeconds, acquireTime: t, renewTime: t, leaseTransitions },
    };
  }
  unhang(): void {
    this.mode = 'ok';
    this.hangOnly = null;
    for (const resolve of this.hung.splice(0)) resolve();
  }

  getLease = (_ns: string, _name: string) => this.call('getLease', () => (this.lease ? structuredClone(this.lease) : null));
  createLease = (_ns: string, body: V1Lease) =>
    this.call('createLease', () => {
      if (this.lease) throw (this.conflicts++, apiError(409, 'AlreadyExists'));
      return this.store(body);
    });
  replaceLease = (_ns: string, body: V1Lease) =>
    this.call('replaceLease', () => {
      if (!this.lease) throw apiError(404, 'NotFound');
      // Like the API server: a resourceVersion in the body must be the current one; none means unconditional.
      const rv = body.metadata?.resourceVersion;
      if (rv !== undefined && rv !== this.lease.metadata?.resourceVersion) throw (this.conflicts++, apiError(409, 'Conflict'));
      return this.store(body);
    });

  private store(body: V1Lease): V1Lease {
    this.lease = structuredClone({ ...body, metadata: { ...body.metadata, resourceVersion: String(++this.rv) } });
    return structuredClone(this.lease);
  }
  private async call<T>(method: keyof LeaseApi, fn: () => T): Promise<T> {
    this.calls++;
    this.maxInflight = Math.max(this.maxInflight, ++this.inflight);
    try {
      if (this.mode === 'hang' && (this.hangOnly ?? method) === method) await new Promise<void>((resolve) => this.hung.push(resolve));
      if (this.mode === 'fail') throw apiError(500, 'InternalError');
      return fn();
    } finally {
      this.inflight--;
    }
  }
}

function elector(leases: FakeLeases, clock: FakeClock, identity: string, cfg: Partial<typeof DEFAULT_LEASE> = {}) {
  const changes: boolean[] = [];
  const warnings: string[] = [];
  const log = silentLog({ warn: (_o, m) => void warnings.push(m) });
  const e = new LeaderElector(leases, { namespace: NS, name: NAME, identity, ...DEFAULT_LEASE, ...cfg }, clock.now, (l) => changes.push(l), log, clock);
  return { e, changes, warnings };
}

const spec = (leases: FakeLeases) => leases.lease!.spec!;
const ms = (t: Date | undefined) => (t ? new Date(t).getTime() - T0 : NaN);

describe('LeaderElector', () => {
  describe('validates its timings', () => {
    const cases: { name: string; cfg: Partial<typeof DEFAULT_LEASE>; error?: RegExp }[] = [
      { name: 'the defaults', cfg: {} },
      { name: 'renewDeadline equal to leaseDuration', cfg: { renewDeadlineSeconds: 15 }, error: /renewDeadlineSeconds/ },
      { name: 'renewDeadline beyond leaseDuration', cfg: { renewDeadlineSeconds: 20 }, error: /renewDeadlineSeconds/ },
      { name: 'retry equal to renewDeadline', cfg: { retryMs: 10_000 }, error: /retryMs/ },
      { name: 'retry of zero', cfg: { retryMs: 0 }, error: /retryMs/ },
    ];
    for (const c of cases) {
      test(c.name, () => {
        const make = () => elector(new FakeLeases(), new FakeClock(), 'me', c.cfg);
        if (c.error) assert.throws(make, c.error);
        else assert.doesNotThrow(make);
      });
    }
  });

  describe('acquires a Lease only when it is free or its record stopped changing, by our clock', () => {
    const HOUR = 3_600_000;
    const cases: {
      name: string;
      holder?: { identity: string; clockSkewMs: number; keepsRenewing: boolean; durationSeconds?: number };
      notYetAt?: number;
      leaderAt?: number;
      acquiredAt?: number;
      transitions?: number;
    }[] = [
      { name: 'no Lease: created, held at once', leaderAt: 0, acquiredAt: 0, transitions: 0 },
      {
        name: 'released Lease (no holder): taken at once',
        holder: { identity: '', clockSkewMs: 0, keepsRenewing: false, durationSeconds: 1 },
        leaderAt: 0,
        acquiredAt: 0,
        transitions: 4,
      },
      {
        name: "live holder whose clock is an hour behind ours (renewTime long 'expired'): never taken",
        holder: { identity: 'other', clockSkewMs: -HOUR, keepsRenewing: true },
        notYetAt: 60_000,
      },
      {
        name: 'live holder whose clock is an hour ahead: never taken',
        holder: { identity: 'other', clockSkewMs: HOUR, keepsRenewing: true },
        notYetAt: 60_000,
      },
      // Seen unchanged at 0; at 14s it may still be alive; the try at 16s is the first after 15s.
      {
        name: 'dead holder, clock an hour behind: taken once unchanged for leaseDuration, not before',
        holder: { identity: 'other', clockSkewMs: -HOUR, keepsRenewing: false },
        notYetAt: 14_000,
        leaderAt: 16_000,
        acquiredAt: 16_000,
        transitions: 4,
      },
      {
        name: 'dead holder, clock an hour ahead: taken once unchanged for leaseDuration',
        holder: { identity: 'other', clockSkewMs: HOUR, keepsRenewing: false },
        notYetAt: 14_000,
        leaderAt: 16_000,
        acquiredAt: 16_000,
        transitions: 4,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const clock = new FakeClock();
        const leases = new FakeLeases();
        const h = c.holder;
        if (h) {
          leases.put(h.identity, clock.now() + h.clockSkewMs, h.durationSeconds);
          const renew = () => {
            leases.put(h.identity, clock.now() + h.clockSkewMs);
            clock.setTimeout(renew, 2000);
          };
          if (h.keepsRenewing) clock.setTimeout(renew, 1000);
        }
        const me = elector(leases, clock, 'me');
        me.e.start();
        if (c.notYetAt !== undefined) {
          await clock.advanceTo(c.notYetAt);
          assert.equal(me.e.isLeader(), false, 'a follower');
          assert.deepEqual(me.changes, []);
          assert.equal(spec(leases).holderIdentity, h?.identity);
        }
        if (c.leaderAt !== undefined) {
          await clock.advanceTo(c.leaderAt);
          assert.equal(me.e.isLeader(), true, 'the leader');
          assert.deepEqual(me.changes, [true]);
          assert.equal(spec(leases).holderIdentity, 'me');
          assert.equal(spec(leases).leaseTransitions, c.transitions);
          assert.equal(ms(spec(leases).acquireTime), c.acquiredAt);
          assert.equal(ms(spec(leases).renewTime), c.acquiredAt);
          assert.equal(spec(leases).leaseDurationSeconds, 15);
        }
        assert.deepEqual(me.warnings, []);
        await me.e.stop();
      });
    }
  });

  describe('a leader that cannot renew steps down after renewDeadline, before a follower may take over', () => {
    type Fault = [atMs: number, what: (l: FakeLeases, c: FakeClock) => void];
    const cases: { name: string; faults: Fault[]; stepsDownAt: number; warning: RegExp }[] = [
      { name: 'the API answers errors', faults: [[1, (l) => (l.mode = 'fail')]], stepsDownAt: 10_000, warning: /within renewDeadline/ },
      { name: 'the API hangs', faults: [[1, (l) => (l.mode = 'hang')]], stepsDownAt: 10_000, warning: /within renewDeadline/ },
      {
        name: 'errors, one renewal gets through at 8s: the deadline counts from it',
        faults: [
          [1, (l) => (l.mode = 'fail')],
          [7000, (l) => (l.mode = 'ok')],
          [9000, (l) => (l.mode = 'fail')],
        ],
        stepsDownAt: 18_000,
        warning: /within renewDeadline/,
      },
      { name: 'another replica holds the Lease: at once', faults: [[1, (l, c) => l.put('other', c.now())]], stepsDownAt: 2000, warning: /another replica/ },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const clock = new FakeClock();
        const leases = new FakeLeases();
        const me = elector(leases, clock, 'me');
        me.e.start();
        await clock.advance(0);
        assert.deepEqual(me.changes, [true]);
        for (const [at, what] of c.faults) clock.setTimeout(() => what(leases, clock), at);
        await clock.advanceTo(c.stepsDownAt - 1);
        assert.deepEqual(me.changes, [true], 'still leading just before');
        await clock.advanceTo(c.stepsDownAt);
        assert.deepEqual(me.changes, [true, false], 'stepped down');
        assert.equal(me.e.isLeader(), false);
        assert.ok(
          me.warnings.some((w) => c.warning.test(w)),
          me.warnings.join('; '),
        );
        leases.unhang();
        await me.e.stop();
      });
    }
  });

  describe('replicas racing for the Lease: exactly one wins, the other gets 409', () => {
    const cases: { name: string; setup: (l: FakeLeases) => void; racesAt: number }[] = [
      { name: 'no Lease: both create, one gets AlreadyExists', setup: () => {}, racesAt: 0 },
      { name: 'released Lease: both replace the same resourceVersion', setup: (l) => l.put('', T0, 1), racesAt: 0 },
      { name: 'expired Lease: both replace the same resourceVersion', setup: (l) => l.put('gone', T0), racesAt: 16_000 },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const clock = new FakeClock();
        const leases = new FakeLeases();
        c.setup(leases);
        const [a, b] = [elector(leases, clock, 'a'), elector(leases, clock, 'b')];
        if (c.racesAt > 0) {
          assert.deepEqual(await Promise.all([a.e.tryAcquireOrRenew(), b.e.tryAcquireOrRenew()]), [false, false], 'seen, not expired yet');
          await clock.advanceTo(c.racesAt);
        }
        const won = await Promise.all([a.e.tryAcquireOrRenew(), b.e.tryAcquireOrRenew()]);
        assert.equal(won.filter(Boolean).length, 1, `exactly one winner: ${won}`);
        assert.equal(leases.conflicts, 1, 'the loser got a 409');
        assert.equal(spec(leases).holderIdentity, won[0] ? 'a' : 'b');
        assert.deepEqual([...a.warnings, ...b.warnings], [], 'a lost race is not worth a warning');
        // The loser, trying again, sees the winner's fresh record and leaves it alone.
        const again = await Promise.all([a.e.tryAcquireOrRenew(), b.e.tryAcquireOrRenew()]);
        assert.deepEqual(again, won);
      });
    }
  });

  describe('stop() while leading releases the Lease', () => {
    const cases: { name: string; releaseFails: boolean; otherNotYetAfter?: number; otherLeadsAfter: number }[] = [
      { name: 'released: the other replica takes over at its next try', releaseFails: false, otherLeadsAfter: 2000 },
      {
        name: 'release fails: logged, stop() still resolves; the other waits out the lease',
        releaseFails: true,
        otherNotYetAfter: 14_000,
        otherLeadsAfter: 17_000,
      },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const clock = new FakeClock();
        const leases = new FakeLeases();
        const [a, b] = [elector(leases, clock, 'a'), elector(leases, clock, 'b')];
        a.e.start();
        await clock.advanceTo(1000);
        b.e.start();
        await clock.advanceTo(5000);
        assert.deepEqual([a.e.isLeader(), b.e.isLeader()], [true, false]);

        if (c.releaseFails) leases.mode = 'fail';
        await a.e.stop();
        assert.deepEqual(a.changes, [true, false], 'stepped down');
        if (c.releaseFails) assert.ok(a.warnings.includes('could not release the leader Lease'), a.warnings.join('; '));
        else assert.deepEqual([spec(leases).holderIdentity, spec(leases).leaseDurationSeconds], ['', 1]);
        leases.mode = 'ok';
        const stoppedAt = clock.now() - T0;

        if (c.otherNotYetAfter !== undefined) {
          await clock.advanceTo(stoppedAt + c.otherNotYetAfter);
          assert.equal(b.e.isLeader(), false);
        }
        await clock.advanceTo(stoppedAt + c.otherLeadsAfter);
        assert.equal(b.e.isLeader(), true);
        assert.equal(spec(leases).holderIdentity, 'b');
        assert.equal(spec(leases).leaseTransitions, 1);
        assert.deepEqual(a.changes, [true, false], 'nothing from a after stop');
        await b.e.stop();
      });
    }
  });

  test('stop() during a renewal: the release waits for it to land (else it would get 409) and then frees the Lease', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    const me = elector(leases, clock, 'me');
    me.e.start();
    await clock.advanceTo(1000);
    [leases.mode, leases.hangOnly] = ['hang', 'replaceLease'];
    await clock.advanceTo(2000); // the renewal has read the Lease; its write hangs
    const stopping = me.e.stop();
    await clock.advance(0);
    leases.unhang();
    await stopping;
    assert.deepEqual(me.changes, [true, false]);
    assert.deepEqual([spec(leases).holderIdentity, spec(leases).leaseDurationSeconds], ['', 1]);
    assert.deepEqual([leases.conflicts, me.warnings], [0, []]);
  });

  test('one attempt at a time: a hung request is not stacked on, and its late answer does not make a leader', async () => {
    const clock = new FakeClock();
    const leases = new FakeLeases();
    leases.mode = 'hang';
    const me = elector(leases, clock, 'me');
    me.e.start();
    await clock.advanceTo(60_000);
    assert.deepEqual([leases.calls, leases.maxInflight], [1, 1]);
    // It comes back (and creates the Lease) a minute after it was sent: too late to lead on.
    leases.unhang();
    await clock.advance(0);
    assert.equal(spec(leases).holderIdentity, 'me');
    assert.deepEqual(me.changes, []);
    // The next try, retryMs later, renews in time.
    await clock.advance(DEFAULT_LEASE.retryMs);
    assert.deepEqual(me.changes, [true]);
    await clock.advance(20_000);
    assert.equal(leases.maxInflight, 1);
    await me.e.stop();
  });

  describe('after stop(): no callback, no further attempt', () => {
    const cases: { name: string; leading: boolean }[] = [
      { name: 'a follower whose attempt is in flight: it takes nothing when the answer comes', leading: false },
      { name: 'a leader whose renewal hangs: stop() gives up releasing after renewDeadline', leading: true },
    ];
    for (const c of cases) {
      test(c.name, async () => {
        const clock = new FakeClock();
        const leases = new FakeLeases();
        if (!c.leading) leases.mode = 'hang';
        const me = elector(leases, clock, 'me');
        me.e.start();
        await clock.advanceTo(1000);
        if (c.leading) {
          leases.mode = 'hang';
          await clock.advanceTo(3000); // the renewal at 2s hangs
        }
        let stopped = false;
        const stopping = me.e.stop().then(() => (stopped = true));
        assert.deepEqual(me.changes, c.leading ? [true, false] : []);
        await clock.advance(0);
        if (c.leading) {
          assert.equal(stopped, false, 'waiting for the renewal in flight');
          await clock.advance(DEFAULT_LEASE.renewDeadlineSeconds * 1000);
          assert.ok(me.warnings.includes('gave up releasing the leader Lease'), me.warnings.join('; '));
        }
        await stopping;
        assert.equal(stopped, true);
        const calls = leases.calls;
        leases.unhang();
        await clock.advance(60_000);
        assert.deepEqual(me.changes, c.leading ? [true, false] : [], 'no callback after stop');
        assert.equal(me.e.isLeader(), false);
        if (!c.leading) {
          assert.equal(leases.calls, calls, 'no attempt after stop');
          assert.equal(leases.lease, null, 'no Lease created after stop');
        }
        assert.equal(clock.timers.size, 0, 'no timer left');
      });
    }
  });
});

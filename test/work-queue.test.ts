// The per-key work queue on a fake clock: dedupe, one run of a key at a time,
// per-key backoff forgotten on success, requeueAfter, shutdown. Each case
// scripts the reconciles' outcomes and the adds, and lists when (ms since the
// start) each key ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkQueue, type QueueRunResult } from '../src/work-queue.js';
import { FakeClock, T0, flush, queueClock } from './controller/fake-clock.js';

const BACKOFF = { initialMs: 100, maxMs: 1000, jitter: 0 };

/** One scripted reconcile: throws, or returns, after `takesMs` on the clock. */
type Outcome = { fail?: true; requeueAfterMs?: number; takesMs?: number };

function rig(script: Record<string, Outcome[]>, workers = 1) {
  const clock = new FakeClock();
  const runs: Array<[string, number]> = [];
  const errors: Array<[string, number]> = [];
  let maxSameKey = 0;
  const inFlight = new Map<string, number>();
  const queue = new WorkQueue<string>(
    async (key): Promise<QueueRunResult> => {
      runs.push([key, clock.now() - T0]);
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, inFlight.get(key)!);
      const o = script[key]?.shift() ?? {};
      try {
        if (o.takesMs) await new Promise<void>((r) => clock.setTimeout(r, o.takesMs!));
        if (o.fail) throw new Error(`${key} failed`);
        return o.requeueAfterMs === undefined ? {} : { requeueAfterMs: o.requeueAfterMs };
      } finally {
        inFlight.set(key, inFlight.get(key)! - 1);
      }
    },
    { backoff: BACKOFF, workers, onError: (key, _err, retryInMs) => errors.push([key, retryInMs]) },
    queueClock(clock),
  );
  return { clock, queue, runs, errors, maxSameKey: () => maxSameKey };
}

interface Case {
  name: string;
  script?: Record<string, Outcome[]>;
  /** Adds at ms since the start: [at, key] for add, [at, key, afterMs] for addAfter. */
  adds: Array<[number, string] | [number, string, number]>;
  runs: Array<[string, number]>;
  retries?: Array<[string, number]>;
}

const cases: Case[] = [
  {
    name: 'a key added three times before it runs runs once',
    adds: [
      [0, 'a'],
      [0, 'a'],
      [0, 'a'],
    ],
    runs: [['a', 0]],
  },
  {
    name: 'two keys run in the order added',
    adds: [
      [0, 'b'],
      [0, 'a'],
      [0, 'b'],
    ],
    runs: [
      ['b', 0],
      ['a', 0],
    ],
  },
  {
    name: 'a key added while it runs runs once more right after, not at the same time',
    script: { a: [{ takesMs: 50 }] },
    adds: [
      [0, 'a'],
      [10, 'a'],
      [20, 'a'],
    ],
    runs: [
      ['a', 0],
      ['a', 50],
    ],
  },
  {
    name: 'a failing key backs off 100, 200, 400 ms, then succeeds and stops',
    script: { a: [{ fail: true }, { fail: true }, { fail: true }] },
    adds: [[0, 'a']],
    runs: [
      ['a', 0],
      ['a', 100],
      ['a', 300],
      ['a', 700],
    ],
    retries: [
      ['a', 100],
      ['a', 200],
      ['a', 400],
    ],
  },
  {
    name: 'success forgets the failures: the next failure waits the first delay again',
    script: { a: [{ fail: true }, { fail: true }, {}, { fail: true }] },
    adds: [
      [0, 'a'],
      [1000, 'a'],
    ],
    runs: [
      ['a', 0],
      ['a', 100],
      ['a', 300],
      ['a', 1000],
      ['a', 1100],
    ],
    retries: [
      ['a', 100],
      ['a', 200],
      ['a', 100],
    ],
  },
  {
    name: 'the backoff is capped at maxMs',
    script: { a: Array.from({ length: 6 }, () => ({ fail: true as const })) },
    adds: [[0, 'a']],
    runs: [
      ['a', 0],
      ['a', 100],
      ['a', 300],
      ['a', 700],
      ['a', 1500],
      ['a', 2500],
      ['a', 3500],
    ],
    retries: [
      ['a', 100],
      ['a', 200],
      ['a', 400],
      ['a', 800],
      ['a', 1000],
      ['a', 1000],
    ],
  },
  {
    name: 'the backoff is per key: a failing key does not delay another',
    script: { a: [{ fail: true }, { fail: true }] },
    adds: [
      [0, 'a'],
      [0, 'b'],
      [150, 'b'],
    ],
    runs: [
      ['a', 0],
      ['b', 0],
      ['a', 100],
      ['b', 150],
      ['a', 300],
    ],
    retries: [
      ['a', 100],
      ['a', 200],
    ],
  },
  {
    name: 'an add during the backoff runs at once and replaces the retry',
    script: { a: [{ fail: true }] },
    adds: [
      [0, 'a'],
      [50, 'a'],
    ],
    runs: [
      ['a', 0],
      ['a', 50],
    ],
    retries: [['a', 100]],
  },
  {
    name: 'requeueAfterMs runs the key again then',
    script: { a: [{ requeueAfterMs: 500 }, { requeueAfterMs: 500 }] },
    adds: [[0, 'a']],
    runs: [
      ['a', 0],
      ['a', 500],
      ['a', 1000],
    ],
  },
  {
    name: 'addAfter keeps the earlier of two due times',
    adds: [
      [0, 'a', 300],
      [100, 'a', 100],
      [150, 'a', 500],
    ],
    runs: [['a', 200]],
  },
  {
    name: 'addAfter of a key already added changes nothing',
    adds: [
      [0, 'a'],
      [0, 'a', 300],
    ],
    runs: [['a', 0]],
  },
];

for (const c of cases) {
  test(`work queue: ${c.name}`, async () => {
    const { clock, queue, runs, errors, maxSameKey } = rig(structuredClone(c.script ?? {}));
    for (const [at, key, after] of c.adds) {
      if (T0 + at > clock.now()) await clock.advanceTo(at); // adds at one time come in one burst
      if (after === undefined) queue.add(key);
      else queue.addAfter(key, after);
    }
    await clock.advance(10_000);
    await queue.shutdown();
    assert.deepEqual(runs, c.runs);
    assert.deepEqual(errors, c.retries ?? []);
    assert.equal(maxSameKey(), 1);
    assert.equal(clock.timers.size, 0, 'a timer is left armed');
  });
}

test('work queue: with two workers two keys run at once, one key never twice', async () => {
  const { clock, queue, runs, maxSameKey } = rig({ a: [{ takesMs: 100 }, { takesMs: 100 }], b: [{ takesMs: 100 }] }, 2);
  queue.add('a');
  queue.add('b');
  await clock.advance(10);
  queue.add('a');
  await clock.advance(1000);
  await queue.shutdown();
  assert.deepEqual(runs, [
    ['a', 0],
    ['b', 0],
    ['a', 100],
  ]);
  assert.equal(maxSameKey(), 1);
});

test('work queue: shutdown aborts the signal, waits for the run in flight, and takes no more keys', async () => {
  const clock = new FakeClock();
  let seen: AbortSignal | undefined;
  let release!: () => void;
  let runs = 0;
  const queue = new WorkQueue<string>(
    async (_key, signal) => {
      runs++;
      seen = signal;
      await new Promise<void>((r) => (release = r));
      return { requeueAfterMs: 100 };
    },
    { backoff: BACKOFF, onError: () => assert.fail('no error expected') },
    queueClock(clock),
  );
  queue.add('a');
  await flush();
  let done = false;
  const stopping = queue.shutdown().then(() => (done = true));
  await flush();
  assert.equal(seen?.aborted, true);
  assert.equal(done, false, 'shutdown returned before the run in flight ended');
  release();
  await stopping;
  queue.add('a');
  await clock.advance(10_000);
  assert.equal(runs, 1);
  assert.equal(clock.timers.size, 0);
});

test('work queue: idle resolves once the ready keys have run', async () => {
  const { clock, queue, runs } = rig({ a: [{ takesMs: 100 }] });
  queue.add('a');
  queue.add('b');
  let idle = false;
  void queue.idle().then(() => (idle = true));
  await clock.advance(50);
  assert.equal(idle, false);
  await clock.advance(100);
  assert.equal(idle, true);
  assert.deepEqual(runs, [
    ['a', 0],
    ['b', 100],
  ]);
  await queue.shutdown();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until as untilValue } from '../support/until.js';
import { seededRandom } from '../support/seeded-random.js';
import { Reflector, type KubeObject, type ListWatch, type ReflectorTiming, type WatchEventType } from '../../src/kube/reflector.js';
import { silentLog } from '../support/silent-log.js';
import { statusBody } from '../support/kube/status-errors.js';

type Obj = KubeObject & { metadata: { name: string; resourceVersion: string } };
const obj = (name: string, rv: number): Obj => ({ metadata: { name, resourceVersion: String(rv) } });

type WatchScript = { events: Array<[WatchEventType, unknown]>; end: 'close' | 'hang' | Error };

/** A scripted API: each list/watch call takes the next step; watches deliver events then end or fail as told. Calls are recorded with their resourceVersion. */
class ScriptedApi implements ListWatch<Obj> {
  calls: string[] = [];
  constructor(
    private lists: Array<Obj[] | Error>,
    private watches: WatchScript[],
  ) {}
  async list(atRv: string) {
    const next = this.lists.shift();
    this.calls.push(`list@${atRv}`);
    if (next === undefined) throw new Error('no more lists scripted');
    if (next instanceof Error) throw next;
    const rv = Math.max(0, ...next.map((o) => Number(o.metadata.resourceVersion)));
    return { items: next, resourceVersion: String(rv) };
  }
  async watch(rv: string, onEvent: (t: WatchEventType, o: unknown) => void, done: (err?: unknown) => void) {
    this.calls.push(`watch@${rv}`);
    const w = this.watches.shift() ?? { events: [], end: 'hang' as const };
    let aborted = false;
    setImmediate(() => {
      for (const [t, o] of w.events) onEvent(t, o);
      if (w.end === 'close') done();
      else if (w.end instanceof Error) done(w.end);
    });
    return {
      abort: () => {
        if (!aborted) {
          aborted = true;
          done(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        }
      },
    };
  }
}

const timing: ReflectorTiming = {
  backoffInitialMs: 1,
  backoffMaxMs: 4,
  backoffJitter: 1,
  backoffResetMs: 60_000,
  resyncMs: 60_000,
  sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)),
  now: Date.now,
  random: Math.random,
};
const quiet = silentLog();

const until = (cond: () => boolean) => untilValue('the scripted calls', async () => (cond() ? true : undefined), 2000);

test('lists, then applies watch events to the store', async () => {
  const api = new ScriptedApi(
    [[obj('a', 1)]],
    [
      {
        events: [
          ['ADDED', obj('b', 2)],
          ['MODIFIED', obj('a', 3)],
          ['DELETED', obj('b', 4)],
        ],
        end: 'hang',
      },
    ],
  );
  const seen: string[][] = [];
  const r = new Reflector(api, (s) => seen.push([...s.keys()]), timing, quiet);
  r.start();
  await until(() => seen.length === 4);
  await r.stop();
  assert.deepEqual(seen, [['a'], ['a', 'b'], ['a', 'b'], ['a']]);
  assert.equal(r.store.get('a')?.metadata.resourceVersion, '3');
  assert.deepEqual(api.calls, ['list@0', 'watch@1']);
});

test('a watch that ends resumes from the last resourceVersion, bookmarks included, without relisting', async () => {
  const api = new ScriptedApi(
    [[obj('a', 1)]],
    [
      {
        events: [
          ['MODIFIED', obj('a', 5)],
          ['BOOKMARK', { metadata: { resourceVersion: '9' } }],
        ],
        end: 'close',
      },
      { events: [], end: 'hang' },
    ],
  );
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 3);
  await r.stop();
  assert.deepEqual(api.calls, ['list@0', 'watch@1', 'watch@9']);
});

test('410 Gone as an ERROR event relists at once', async () => {
  const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version: 1 (5)' };
  const api = new ScriptedApi(
    [[obj('a', 1)], [obj('a', 6), obj('c', 7)]],
    [
      { events: [['ERROR', gone]], end: 'hang' },
      { events: [], end: 'hang' },
    ],
  );
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 4);
  await r.stop();
  assert.deepEqual(api.calls, ['list@0', 'watch@1', 'list@1', 'watch@7']);
  assert.deepEqual([...r.store.keys()], ['a', 'c']);
  assert.equal(r.stats.relistsOnGone, 1);
});

test('failures back off and recover; the store is rebuilt by the relist', async () => {
  const err500 = Object.assign(new Error('HTTP 500'), { code: 500 });
  const api = new ScriptedApi(
    [[obj('a', 1)], err500, [obj('b', 3)]],
    [
      { events: [], end: new Error('socket hang up') },
      { events: [], end: 'hang' },
    ],
  );
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 5);
  await r.stop();
  assert.deepEqual(api.calls, ['list@0', 'watch@1', 'list@1', 'list@1', 'watch@3']);
  assert.deepEqual([...r.store.keys()], ['b']);
  assert.equal(r.stats.errors, 2);
});

test('a watch that ends at once with nothing in it backs off and relists instead of spinning', async () => {
  const api = new ScriptedApi(
    [[obj('a', 1)], [obj('a', 1)]],
    [
      { events: [], end: 'close' },
      { events: [], end: 'hang' },
    ],
  );
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 4);
  await r.stop();
  assert.deepEqual(api.calls, ['list@0', 'watch@1', 'list@1', 'watch@1']);
  assert.equal(r.stats.errors, 1);
});

// Which resourceVersion each list asks for (client-go's relistResourceVersion()): "0" first, then the
// last synced one (list, watch event or bookmark), "" only after a list refused it as unavailable.
const gone = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 1 (5)', reason: 'Expired', code: 410 };
/** What @kubernetes/client-node throws for an HTTP error: ApiException with code and the body as text. */
const httpError = (code: number, status: object) => Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify(status) });
const listExpired = httpError(410, statusBody(410, 'Expired', 'The resourceVersion for the provided list is too old.'));
const tooLarge = httpError(
  504,
  statusBody(504, 'Timeout', 'Timeout: Too large resource version: 9, current: 5', {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  }),
);
/** Apiservers 1.17.0-1.18.5: the cause carries only the message. */
const tooLargeOld = httpError(
  504,
  statusBody(504, 'Timeout', 'Timeout: Too large resource version: 9, current: 5', {
    causes: [{ message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  }),
);
const otherTimeout = httpError(504, statusBody(504, 'Timeout', 'Timeout: request did not complete within 60s', {}));
const internal = httpError(500, statusBody(500, 'InternalError', 'Internal error occurred: boom'));
const cut: WatchScript = { events: [], end: new Error('socket hang up') };
const hang: WatchScript = { events: [], end: 'hang' };

const rvCases: Array<{ name: string; lists: Array<Obj[] | Error>; watches: WatchScript[]; calls: string[]; errors: number }> = [
  { name: 'the first list asks for "0" (any state: the watch cache)', lists: [[obj('a', 1)]], watches: [hang], calls: ['list@0', 'watch@1'], errors: 0 },
  {
    name: "a relist after a failed watch asks for the last synced resourceVersion, a bookmark's included",
    lists: [[obj('a', 1)], [obj('a', 12)]],
    watches: [
      {
        events: [
          ['MODIFIED', obj('a', 5)],
          ['BOOKMARK', { metadata: { resourceVersion: '9' } }],
        ],
        end: new Error('socket hang up'),
      },
      hang,
    ],
    calls: ['list@0', 'watch@1', 'list@9', 'watch@12'],
    errors: 1,
  },
  {
    name: 'a watch\'s 410 relists at the last synced resourceVersion, not "" (as client-go: not-older-than is still served from the cache)',
    lists: [[obj('a', 1)], [obj('a', 6)]],
    watches: [
      {
        events: [
          ['MODIFIED', obj('a', 3)],
          ['ERROR', gone],
        ],
        end: 'hang',
      },
      hang,
    ],
    calls: ['list@0', 'watch@1', 'list@3', 'watch@6'],
    errors: 0,
  },
  {
    name: 'so does a watch request failing with HTTP 410',
    lists: [[obj('a', 1)], [obj('a', 6)]],
    watches: [{ events: [], end: listExpired }, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'watch@6'],
    errors: 0,
  },
  {
    name: 'a list answered 410 Expired is retried at once with "" (a consistent read)',
    lists: [[obj('a', 1)], listExpired, [obj('a', 8)]],
    watches: [cut, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@', 'watch@8'],
    errors: 1,
  },
  {
    name: 'a list answered 504 "Too large resource version" is retried at once with ""',
    lists: [[obj('a', 1)], tooLarge, [obj('a', 8)]],
    watches: [cut, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@', 'watch@8'],
    errors: 1,
  },
  {
    name: 'so is one whose cause names it in its message only',
    lists: [[obj('a', 1)], tooLargeOld, [obj('a', 8)]],
    watches: [cut, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@', 'watch@8'],
    errors: 1,
  },
  {
    name: 'any other 504 is an ordinary failure: back off, same resourceVersion',
    lists: [[obj('a', 1)], otherTimeout, [obj('a', 8)]],
    watches: [cut, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@1', 'watch@8'],
    errors: 2,
  },
  {
    name: 'once the "" list succeeds, relists ask for the synced resourceVersion again',
    lists: [[obj('a', 1)], listExpired, [obj('a', 8)], [obj('a', 11)]],
    watches: [cut, { events: [['MODIFIED', obj('a', 10)]], end: new Error('socket hang up') }, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@', 'watch@8', 'list@10', 'watch@11'],
    errors: 2,
  },
  {
    name: 'while the "" list fails, later lists stay "" until one succeeds',
    lists: [[obj('a', 1)], tooLarge, internal, [obj('a', 4)], [obj('a', 5)]],
    watches: [cut, cut, hang],
    calls: ['list@0', 'watch@1', 'list@1', 'list@', 'list@', 'watch@4', 'list@4', 'watch@5'],
    errors: 3,
  },
];

for (const c of rvCases) {
  test(`list resourceVersion: ${c.name}`, async () => {
    const api = new ScriptedApi(c.lists, c.watches);
    const r = new Reflector(api, () => undefined, timing, quiet);
    r.start();
    await until(() => api.calls.length >= c.calls.length);
    await r.stop();
    assert.deepEqual(api.calls, c.calls);
    assert.equal(r.stats.errors, c.errors);
    assert.equal(r.stats.lists, c.calls.filter((call) => call.startsWith('list')).length);
  });
}

// The retry's jitter, on a fake clock: sleep records the delay and moves the clock by it instead of waiting.
function fakeClockTiming(random: () => number) {
  const clock = { now: 0, delays: [] as number[] };
  const t: ReflectorTiming = {
    ...timing,
    backoffInitialMs: 1000,
    backoffMaxMs: 30_000,
    backoffResetMs: 120_000,
    now: () => clock.now,
    random,
    sleep: async (ms) => {
      clock.delays.push(ms);
      clock.now += ms;
    },
  };
  return { timing: t, clock };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });

test('two reflectors failing together retry at different, jittered times within the backoff bounds (no lockstep)', async () => {
  const FAILURES = 10;
  const runs = await Promise.all(
    [1, 2].map(async (seed) => {
      const api = new ScriptedApi([...Array.from({ length: FAILURES }, refused), [obj('a', 1)]], []);
      const { timing: t, clock } = fakeClockTiming(seededRandom(seed));
      const r = new Reflector(api, () => undefined, t, quiet);
      r.start();
      await until(() => api.calls.length === FAILURES + 2);
      await r.stop();
      assert.equal(r.stats.errors, FAILURES);
      return clock.delays;
    }),
  );
  for (const delays of runs) {
    assert.equal(delays.length, FAILURES);
    delays.forEach((d, i) => {
      const base = Math.min(1000 * 2 ** i, 30_000);
      assert.ok(d >= base && d <= 2 * base, `retry ${i + 1} after ${d}ms, outside [${base}, ${2 * base}]`);
    });
  }
  const [one, two] = runs as [number[], number[]];
  assert.ok(
    one.every((d, i) => d !== two[i]),
    `the two reflectors retried in step: ${one} / ${two}`,
  );
});

test("the retry backoff is not reset by a good list, only by a quiet spell of backoffResetMs (client-go's backoff manager)", async () => {
  const { timing: t, clock } = fakeClockTiming(() => 0);
  const api = new ScriptedApi([[obj('a', 1)], [obj('a', 2)], [obj('a', 3)], [obj('a', 4)]], [cut, cut, cut, hang]);
  const list = api.list.bind(api);
  // Every list succeeds and every watch fails at once; before the third list, 121 s pass without a failure.
  api.list = async (rv) => {
    if (api.calls.filter((c) => c.startsWith('list')).length === 2) clock.now += 121_000;
    return list(rv);
  };
  const r = new Reflector(api, () => undefined, t, quiet);
  r.start();
  await until(() => api.calls.length === 8);
  await r.stop();
  assert.deepEqual(clock.delays, [1000, 2000, 1000]);
});

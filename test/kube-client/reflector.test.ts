import { test } from 'node:test';
import assert from 'node:assert/strict';
import { until as untilValue } from '../support/until.js';
import { Reflector, type KubeObject, type ListWatch, type WatchEventType } from '../../src/kube/reflector.js';

type Obj = KubeObject & { metadata: { name: string; resourceVersion: string } };
const obj = (name: string, rv: number): Obj => ({ metadata: { name, resourceVersion: String(rv) } });

/** A scripted API: each list/watch call takes the next step; watches deliver events then end or fail as told. */
class ScriptedApi implements ListWatch<Obj> {
  calls: string[] = [];
  constructor(
    private lists: Array<Obj[] | Error>,
    private watches: Array<{ events: Array<[WatchEventType, unknown]>; end: 'close' | 'hang' | Error }>,
  ) {}
  async list() {
    const next = this.lists.shift();
    this.calls.push('list');
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
    return { abort: () => { if (!aborted) { aborted = true; done(Object.assign(new Error('aborted'), { name: 'AbortError' })); } } };
  }
}

const timing = { backoffInitialMs: 1, backoffMaxMs: 4, resyncMs: 60_000, sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) };
const quiet = { warn() {}, debug() {} };

const until = (cond: () => boolean) => untilValue('the scripted calls', async () => (cond() ? true : undefined), 2000);

test('lists, then applies watch events to the store', async () => {
  const api = new ScriptedApi([[obj('a', 1)]], [{ events: [['ADDED', obj('b', 2)], ['MODIFIED', obj('a', 3)], ['DELETED', obj('b', 4)]], end: 'hang' }]);
  const seen: string[][] = [];
  const r = new Reflector(api, (s) => seen.push([...s.keys()]), timing, quiet);
  r.start();
  await until(() => seen.length === 4);
  await r.stop();
  assert.deepEqual(seen, [['a'], ['a', 'b'], ['a', 'b'], ['a']]);
  assert.equal(r.store.get('a')?.metadata.resourceVersion, '3');
  assert.deepEqual(api.calls, ['list', 'watch@1']);
});

test('a watch that ends resumes from the last resourceVersion, bookmarks included, without relisting', async () => {
  const api = new ScriptedApi([[obj('a', 1)]], [
    { events: [['MODIFIED', obj('a', 5)], ['BOOKMARK', { metadata: { resourceVersion: '9' } }]], end: 'close' },
    { events: [], end: 'hang' },
  ]);
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 3);
  await r.stop();
  assert.deepEqual(api.calls, ['list', 'watch@1', 'watch@9']);
});

test('410 Gone as an ERROR event relists at once', async () => {
  const gone = { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version: 1 (5)' };
  const api = new ScriptedApi([[obj('a', 1)], [obj('a', 6), obj('c', 7)]], [{ events: [['ERROR', gone]], end: 'hang' }, { events: [], end: 'hang' }]);
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 4);
  await r.stop();
  assert.deepEqual(api.calls, ['list', 'watch@1', 'list', 'watch@7']);
  assert.deepEqual([...r.store.keys()], ['a', 'c']);
  assert.equal(r.stats.relistsOnGone, 1);
});

test('failures back off and recover; the store is rebuilt by the relist', async () => {
  const err500 = Object.assign(new Error('HTTP 500'), { code: 500 });
  const api = new ScriptedApi([[obj('a', 1)], err500, [obj('b', 3)]], [{ events: [], end: new Error('socket hang up') }, { events: [], end: 'hang' }]);
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 5);
  await r.stop();
  assert.deepEqual(api.calls, ['list', 'watch@1', 'list', 'list', 'watch@3']);
  assert.deepEqual([...r.store.keys()], ['b']);
  assert.equal(r.stats.errors, 2);
});

test('a watch that ends at once with nothing in it backs off and relists instead of spinning', async () => {
  const api = new ScriptedApi([[obj('a', 1)], [obj('a', 1)]], [{ events: [], end: 'close' }, { events: [], end: 'hang' }]);
  const r = new Reflector(api, () => undefined, timing, quiet);
  r.start();
  await until(() => api.calls.length === 4);
  await r.stop();
  assert.deepEqual(api.calls, ['list', 'watch@1', 'list', 'watch@1']);
  assert.equal(r.stats.errors, 1);
});

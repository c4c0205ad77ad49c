// The agent's cache of its node's pods, on a fake list/watch that fails as the
// API does: it indexes pods by UID from the list and the watch, and a refusal
// (403, the chart's role without pods) is said once at warn, while other
// failures stay warnings on every retry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NodePods } from '../../src/kube/node-pods.js';
import type { KubeObject, ListWatch, ReflectorTiming, WatchEventType } from '../../src/kube/reflector.js';
import { until } from '../support/until.js';
import { silentLog } from '../support/silent-log.js';

const pod = (namespace: string, name: string, uid: string, rv: number): KubeObject => ({ metadata: { namespace, name, uid, resourceVersion: String(rv) } });
const forbidden = (what: string) => Object.assign(new Error(`pods is forbidden: User "agent" cannot ${what} resource "pods"`), { statusCode: 403 });

/** Lists answer from `lists` in turn (the last one repeats); watches deliver `events` once, then stay open. */
function fakeApi(
  lists: Array<KubeObject[] | Error>,
  events: Array<[WatchEventType, KubeObject]> = [],
): { api: { nodePodsListWatch: (n: string) => ListWatch<KubeObject> }; asked: string[] } {
  const asked: string[] = [];
  const lw: ListWatch<KubeObject> = {
    list: async () => {
      const next = lists.length > 1 ? lists.shift()! : lists[0]!;
      if (next instanceof Error) throw next;
      return { items: next, resourceVersion: '1' };
    },
    watch: async (_rv, onEvent, done) => {
      setImmediate(() => events.splice(0).forEach(([t, o]) => onEvent(t, o)));
      return { abort: () => done(Object.assign(new Error('aborted'), { name: 'AbortError' })) };
    },
  };
  return { api: { nodePodsListWatch: (n) => (asked.push(n), lw) }, asked };
}

const timing: ReflectorTiming = {
  backoffInitialMs: 1,
  backoffMaxMs: 2,
  backoffJitter: 0,
  backoffResetMs: 60_000,
  resyncMs: 60_000,
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  now: Date.now,
  random: () => 0,
};

function logs() {
  const lines: Array<[level: string, msg: string, obj: object]> = [];
  return { lines, log: silentLog({ warn: (o, m) => void lines.push(['warn', m, o]), debug: (o, m) => void lines.push(['debug', m, o]) }) };
}

test('pods by UID from the list and the watch; only its own node asked for', async () => {
  const { api, asked } = fakeApi(
    [[pod('shop', 'web-1', 'u1', 1), pod('shop', 'web-2', 'u2', 1)]],
    [
      ['ADDED', pod('db', 'pg-0', 'u3', 2)],
      ['DELETED', pod('shop', 'web-2', 'u2', 3)],
    ],
  );
  const { lines, log } = logs();
  const pods = new NodePods(api, 'node-a', timing, log);
  pods.start();
  try {
    await until('the watch applied', async () => (pods.lookup('u3') && !pods.lookup('u2') ? true : undefined), 2000);
    assert.deepEqual(pods.lookup('u1'), { namespace: 'shop', name: 'web-1' });
    assert.deepEqual(pods.lookup('u3'), { namespace: 'db', name: 'pg-0' });
    assert.equal(pods.lookup('u-unknown'), undefined);
    assert.deepEqual(asked, ['node-a']);
    assert.deepEqual(lines, []);
  } finally {
    await pods.stop();
  }
});

/** The cache started on a failing API and stopped once it has logged a few retries. */
async function afterRetries(api: ReturnType<typeof fakeApi>['api']) {
  const { lines, log } = logs();
  const pods = new NodePods(api, 'node-a', timing, log);
  pods.start();
  try {
    await until('several retries', async () => (lines.length >= 4 ? true : undefined), 2000);
  } finally {
    await pods.stop();
  }
  return { pods, lines };
}

const failures: Array<{ name: string; error: Error; warns: (n: number) => boolean }> = [
  { name: 'refused (403): said once at warn, naming what was refused; retries at debug', error: forbidden('list'), warns: (n) => n === 1 },
  {
    name: 'any other failure: a warning on every retry',
    error: Object.assign(new Error('etcdserver: request timed out'), { statusCode: 500 }),
    warns: (n) => n >= 3,
  },
];
for (const f of failures) {
  test(`the pods cannot be listed, ${f.name}; nothing is named`, async () => {
    const { pods, lines } = await afterRetries(fakeApi([f.error]).api);
    const warns = lines.filter(([level]) => level === 'warn');
    assert.ok(f.warns(warns.length), `warnings: ${JSON.stringify(warns)}`);
    assert.ok(
      warns.every(([, , o]) => JSON.stringify(o).includes(f.error.message.replace(/"/g, '\\"'))),
      JSON.stringify(warns),
    );
    assert.equal(pods.lookup('u1'), undefined);
  });
}

test('a refused watch after a good list: the listed pods stay named, the refusal is said once', async () => {
  const { api } = fakeApi([[pod('shop', 'web-1', 'u1', 1)]]);
  const refusing: typeof api = {
    nodePodsListWatch: (n) => ({
      ...api.nodePodsListWatch(n),
      watch: async (_rv, _on, done) => (
        setImmediate(() => done(Object.assign(new Error('watch /api/v1/pods: HTTP 403 Forbidden'), { statusCode: 403 }))),
        { abort: () => undefined }
      ),
    }),
  };
  const { pods, lines } = await afterRetries(refusing);
  assert.deepEqual(pods.lookup('u1'), { namespace: 'shop', name: 'web-1' });
  assert.deepEqual(
    lines.filter(([level]) => level === 'warn').map(([, m, o]) => [m.split(':')[0], o]),
    [["cannot read this node's pods", { err: 'watch /api/v1/pods: HTTP 403 Forbidden' }]],
  );
});

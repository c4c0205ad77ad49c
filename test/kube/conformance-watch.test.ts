// Watch streams, compared with captures 50 (events, bookmarks, server-side timeout) and
// 51 (a too-old resourceVersion is an ERROR event with a 410 Status inside a 200 stream).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';
import { openWatch, type WatchEvent, type WatchStream } from '../support/kube/http-client.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const GADGETS = '/apis/wire.example/v1alpha1/gadgets';
const MERGE = 'application/merge-patch+json';

async function collect(stream: WatchStream, count: number): Promise<WatchEvent[]> {
  const events: WatchEvent[] = [];
  while (events.length < count) {
    const event = await stream.next(5000);
    if (!event) break;
    events.push(event);
  }
  return events;
}

describe('watch', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
  });
  after(() => api?.stop());

  const watch = (query: string) => openWatch({ url: api.url, caData: api.caData }, `${GADGETS}?watch=1&${query}`, api.adminToken);
  const create = async (name: string, labels: Record<string, string> = {}) => {
    const res = await api.request('POST', GADGETS, {
      body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name, labels }, spec: { max: 1 } },
    });
    assert.equal(res.status, 201, res.text);
    return res.body;
  };

  it('streams MODIFIED and DELETED in order from a resourceVersion, a BOOKMARK, and ends at timeoutSeconds (capture 50)', async () => {
    const g1 = await create('w1');
    await create('w2');
    const list = await api.request('GET', GADGETS);
    const started = Date.now();
    const stream = await watch(`allowWatchBookmarks=true&timeoutSeconds=4&resourceVersion=${list.body.metadata.resourceVersion}`);
    assert.equal(stream.status, 200);
    assert.match(String(stream.headers['content-type']), /^application\/json/);
    const patched = await api.request('PATCH', `${GADGETS}/w1`, { body: { spec: { max: 301 } }, contentType: MERGE });
    await api.request('DELETE', `${GADGETS}/w2`);
    const [modified, deleted] = await collect(stream, 2);
    assert.equal(modified?.type, 'MODIFIED');
    assert.equal(modified?.object.metadata.name, 'w1');
    assert.equal(modified?.object.spec.max, 301);
    assert.equal(modified?.object.metadata.generation, 2);
    assert.equal(modified?.object.metadata.resourceVersion, patched.body.metadata.resourceVersion);
    assert.equal(modified?.object.metadata.uid, g1.metadata.uid);
    assert.equal(deleted?.type, 'DELETED');
    assert.equal(deleted?.object.metadata.name, 'w2');
    assert.ok(Number(deleted?.object.metadata.resourceVersion) > Number(patched.body.metadata.resourceVersion));
    const rest: WatchEvent[] = [];
    for (let e = await stream.next(6000); e; e = await stream.next(6000)) rest.push(e);
    assert.deepEqual(
      rest.map((e) => e.type).filter((t) => t !== 'BOOKMARK'),
      [],
    );
    const bookmark = rest.find((e) => e.type === 'BOOKMARK');
    assert.ok(bookmark, 'a BOOKMARK arrives before the watch times out');
    assert.equal(bookmark.object.kind, 'Gadget');
    assert.equal(bookmark.object.apiVersion, 'wire.example/v1alpha1');
    assert.ok(Number(bookmark.object.metadata.resourceVersion) >= Number(deleted?.object.metadata.resourceVersion));
    assert.deepEqual(await stream.ended, { clean: true });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 3500 && elapsed < 8000, `ended after ${elapsed} ms`);
  });

  it('answers a too-old resourceVersion with an ERROR event carrying 410 Expired inside a 200 stream (capture 51)', async () => {
    const stream = await watch('resourceVersion=5&timeoutSeconds=3');
    assert.equal(stream.status, 200);
    const event = await stream.next();
    assert.equal(event?.type, 'ERROR');
    assert.deepEqual(
      { ...event?.object, message: undefined },
      { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: undefined, reason: 'Expired', code: 410 },
    );
    assert.match(event?.object.message, /^too old resource version: 5 \(\d+\)$/);
    stream.close();
  });

  it('refuses a watch-list (sendInitialEvents) without progress notifications: 422 without NotOlderThan, else a 500 inside the stream, which client-go takes as "list and watch instead"', async () => {
    const bad = await api.request('GET', `${GADGETS}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true`);
    assert.equal(bad.status, 422);
    assert.equal(
      bad.body.message,
      'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
    );
    assert.deepEqual(bad.body.details, {
      group: 'meta.k8s.io',
      kind: 'ListOptions',
      causes: [
        {
          reason: 'FieldValueForbidden',
          message: 'Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
          field: 'resourceVersionMatch',
        },
      ],
    });
    const stream = await watch('sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&timeoutSeconds=5');
    assert.equal(stream.status, 200);
    const event = await stream.next();
    assert.deepEqual(event, {
      type: 'ERROR',
      object: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled',
        reason: 'InternalError',
        code: 500,
      },
    });
    assert.deepEqual(await stream.ended, { clean: true });
  });

  it('starts with ADDED for every existing object when resourceVersion is unset or "0"', async () => {
    await create('init-a', { batch: 'init' });
    await create('init-b', { batch: 'init' });
    for (const rv of ['', '&resourceVersion=0']) {
      const stream = await watch(`labelSelector=batch%3Dinit&timeoutSeconds=5${rv}`);
      const events = await collect(stream, 2);
      assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]).sort(), [
        ['ADDED', 'init-a'],
        ['ADDED', 'init-b'],
      ]);
      stream.close();
    }
  });

  it('sends DELETED when an object leaves the selector and ADDED when it comes back', async () => {
    await create('mover', { tier: 'edge' });
    const list = await api.request('GET', `${GADGETS}?labelSelector=tier%3Dedge`);
    const stream = await watch(`labelSelector=tier%3Dedge&timeoutSeconds=5&resourceVersion=${list.body.metadata.resourceVersion}`);
    const left = await api.request('PATCH', `${GADGETS}/mover`, { body: { metadata: { labels: { tier: 'core' } } }, contentType: MERGE });
    await api.request('PATCH', `${GADGETS}/mover`, { body: { spec: { max: 2 } }, contentType: MERGE });
    const back = await api.request('PATCH', `${GADGETS}/mover`, { body: { metadata: { labels: { tier: 'edge' } } }, contentType: MERGE });
    const events = await collect(stream, 2);
    // DELETED carries the object as it last matched the selector, at the resourceVersion of the change that made it leave.
    assert.deepEqual(
      events.map((e) => [e.type, e.object.metadata.labels.tier, e.object.metadata.resourceVersion]),
      [
        ['DELETED', 'edge', left.body.metadata.resourceVersion],
        ['ADDED', 'edge', back.body.metadata.resourceVersion],
      ],
    );
    stream.close();
  });

  it('filters a watch by fieldSelector metadata.name', async () => {
    const list = await api.request('GET', GADGETS);
    const stream = await watch(`fieldSelector=metadata.name%3Dpicked&timeoutSeconds=5&resourceVersion=${list.body.metadata.resourceVersion}`);
    await create('ignored');
    await create('picked');
    const [event] = await collect(stream, 1);
    assert.deepEqual([event?.type, event?.object.metadata.name], ['ADDED', 'picked']);
    stream.close();
  });
});

// Fault injection and the request log of the in-process server. A real kube-apiserver has
// neither, so against one (KUBEBUILDER_ASSETS) these tests skip.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi, SKIP_REAL_SERVER, type TestApi } from '../support/kube/harness.js';
import type { Faults } from '../support/kube/faults.js';
import { openWatch } from '../support/kube/http-client.js';

const NODES = '/api/v1/nodes';

describe('fault injection and request log', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi({ users: [{ name: 'agent', groups: ['system:masters'] }] });
  });
  after(() => api?.stop());

  const faults = () => api.faults as Faults;
  const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name } });

  it('fails the next N requests with 500, then serves normally', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    faults().failNext(2, { status: 500 });
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await api.request('GET', NODES)).status);
    assert.deepEqual(statuses, [500, 500, 200]);
    const body = (faults().failNext(1, { status: 500 }), await api.request('GET', NODES)).body;
    assert.deepEqual([body.kind, body.reason, body.code], ['Status', 'InternalError', 500]);
  });

  it('answers 429 with Retry-After and 503 with retryAfterSeconds', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    faults().failNext(1, { status: 429, retryAfterSeconds: 3 });
    const limited = await api.request('GET', NODES);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers['retry-after'], '3');
    assert.deepEqual([limited.body.reason, limited.body.details.retryAfterSeconds], ['TooManyRequests', 3]);
    faults().failNext(1, { status: 503 });
    const unavailable = await api.request('GET', NODES);
    assert.deepEqual([unavailable.status, unavailable.body.reason], [503, 'ServiceUnavailable']);
  });

  it('fails only requests matching a predicate', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    faults().failNext(1, { status: 500, match: (r) => r.method === 'POST' && r.path === NODES });
    assert.equal((await api.request('GET', NODES)).status, 200);
    assert.equal((await api.request('POST', NODES, { body: node('f1') })).status, 500);
    assert.equal((await api.request('POST', NODES, { body: node('f1') })).status, 201);
  });

  it('adds latency to matching requests', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    faults().addLatency(300, (r) => r.path === NODES);
    const started = Date.now();
    await api.request('GET', NODES);
    const slow = Date.now() - started;
    const quick = Date.now();
    await api.request('GET', '/version');
    const fast = Date.now() - quick;
    faults().clear();
    assert.ok(slow >= 290, `slow request took ${slow} ms`);
    assert.ok(fast < 290, `unmatched request took ${fast} ms`);
  });

  it('cuts open watch streams without a clean end', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    const stream = await openWatch({ url: api.url, caData: api.caData }, `${NODES}?watch=1&timeoutSeconds=30`, api.adminToken);
    await stream.next(500);
    assert.equal(api.server?.openWatches(), 1);
    assert.equal(faults().cutWatches(), 1);
    assert.deepEqual(await stream.ended, { clean: false });
    assert.equal(api.server?.openWatches(), 0);
  });

  it('expires resourceVersions: a watch or continue from before gets 410', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    await api.request('POST', NODES, { body: node('f2') });
    const list = await api.request('GET', `${NODES}?limit=1`);
    const rv = list.body.metadata.resourceVersion;
    faults().expireResourceVersions();
    const stream = await openWatch({ url: api.url, caData: api.caData }, `${NODES}?watch=1&resourceVersion=${rv}`, api.adminToken);
    assert.equal(stream.status, 200);
    const event = await stream.next();
    assert.deepEqual([event?.type, event?.object.code, event?.object.reason], ['ERROR', 410, 'Expired']);
    const page = await api.request('GET', `${NODES}?limit=1&continue=${encodeURIComponent(list.body.metadata.continue)}`);
    assert.deepEqual([page.status, page.body.reason], [410, 'Expired']);
    const fresh = await api.request('GET', NODES);
    const current = await openWatch(
      { url: api.url, caData: api.caData },
      `${NODES}?watch=1&timeoutSeconds=5&resourceVersion=${fresh.body.metadata.resourceVersion}`,
      api.adminToken,
    );
    await api.request('POST', NODES, { body: node('f3') });
    assert.equal((await current.next())?.type, 'ADDED');
    current.close();
  });

  it('logs every request with method, path, query, user and status', async (t) => {
    if (!api.faults) return t.skip(SKIP_REAL_SERVER);
    const before = api.server?.requests.length ?? 0;
    await api.request('GET', `${NODES}?limit=1`, { token: api.tokenFor('agent') });
    await api.request('GET', NODES, { token: 'wrong' });
    const logged = api.server?.requests.slice(before).map((r) => [r.method, r.path, r.query, r.user, r.status]);
    assert.deepEqual(logged, [
      ['GET', NODES, '?limit=1', 'agent', 200],
      ['GET', NODES, '', '', 401],
    ]);
  });
});

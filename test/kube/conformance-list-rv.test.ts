// The resourceVersion of a list, as kube-apiserver (1.32, the captures' version) answers it:
// unset/"" a consistent read; "0" any state (the watch cache, which ignores limit then); N not
// older than N, or a 504 "Too large resource version" once the cache has waited for N; exact reads
// (resourceVersionMatch=Exact, legacy N with limit) from etcd; ListOptions validation (422); a
// resourceVersion that is not a number; resourceVersion with continue. client-go's reflector (and
// ours) relies on "0" and on not-older-than, and on the 504's cause to fall back to "".
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';
import type { RawResponse } from '../support/kube/http-client.js';
import { until } from '../support/until.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const NODES = '/api/v1/nodes';
const GADGETS = '/apis/wire.example/v1alpha1/gadgets';
const NAMES = ['lrv-a', 'lrv-b', 'lrv-c'];
/** What a wait for a resourceVersion the server has not reached costs here (kube-apiserver: 3 s). */
const WAIT_MS = 1000;

interface Ctx {
  api: TestApi;
  /** The resourceVersion of the first node created: older than the current one. */
  oldest: number;
  /** The list resourceVersion after the nodes were created. */
  current: number;
}

const status = (code: number, reason: string, message: string, details?: object) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  ...(reason ? { reason } : {}),
  ...(details ? { details } : {}),
  code,
});
const listOptionsInvalid = (errors: Array<{ reason: string; message: string }>) => {
  const rendered = errors.map((e) => `resourceVersionMatch: ${e.message}`);
  return status(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`}`, {
    group: 'meta.k8s.io',
    kind: 'ListOptions',
    causes: errors.map((e) => ({ ...e, field: 'resourceVersionMatch' })),
  });
};
const names = (res: RawResponse) => (res.body.items ?? []).map((n: any) => n.metadata.name);

const cases: Array<{ name: string; query: (ctx: Ctx) => string | Promise<string>; check: (res: RawResponse, ctx: Ctx) => void }> = [
  {
    name: 'unset: a consistent read of the current state',
    query: () => '',
    check: (res, ctx) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), NAMES);
      assert.ok(Number(res.body.metadata.resourceVersion) >= ctx.current);
    },
  },
  {
    name: '"" is the same as unset',
    query: () => 'resourceVersion=',
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), NAMES);
    },
  },
  {
    name: '"0": any state; the watch cache ignores limit, so the whole list comes back without continue',
    query: () => 'resourceVersion=0&limit=1',
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), NAMES);
      assert.equal(res.body.metadata.continue, undefined);
      assert.equal(res.body.metadata.remainingItemCount, undefined);
    },
  },
  {
    name: '"0" with resourceVersionMatch=NotOlderThan: the same',
    query: () => 'resourceVersion=0&resourceVersionMatch=NotOlderThan',
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), NAMES);
    },
  },
  {
    name: '"0" with fieldSelector metadata.name (the agent\'s first list of its Node)',
    query: () => `fieldSelector=${encodeURIComponent('metadata.name=lrv-b')}&resourceVersion=0`,
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), ['lrv-b']);
    },
  },
  {
    // Not older than N is all the API promises: the watch cache answers, and on
    // a loaded server it may not yet have caught up with the current state.
    name: 'N older than the current one: a state not older than N, from the watch cache',
    query: (ctx) => `resourceVersion=${ctx.oldest}`,
    check: (res, ctx) => {
      assert.equal(res.status, 200, res.text);
      assert.ok(Number(res.body.metadata.resourceVersion) >= ctx.oldest, res.body.metadata.resourceVersion);
      assert.deepEqual(names(res), NAMES.slice(0, names(res).length), 'the nodes in the order they were created, the first at least');
      assert.ok(names(res).length >= 1);
    },
  },
  {
    name: 'N, fieldSelector metadata.name, match NotOlderThan',
    query: (ctx) => `fieldSelector=${encodeURIComponent('metadata.name=lrv-c')}&resourceVersion=${ctx.oldest}&resourceVersionMatch=NotOlderThan`,
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), ['lrv-c']);
    },
  },
  {
    name: 'N ahead of the server: 504 Timeout "Too large resource version" after the wait, Retry-After 1',
    query: (ctx) => `resourceVersion=${ctx.current + 1_000_000}`,
    check: (res, ctx) => {
      assert.equal(res.status, 504, res.text);
      const message = res.body.message as string;
      assert.match(message, new RegExp(`^Timeout: Too large resource version: ${ctx.current + 1_000_000}, current: \\d+$`));
      if (ctx.api.kind === 'in-process') assert.equal(message, `Timeout: Too large resource version: ${ctx.current + 1_000_000}, current: ${ctx.current}`);
      assert.deepEqual(
        res.body,
        status(504, 'Timeout', message, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 }),
      );
      assert.deepEqual(Object.keys(res.body), ['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'details', 'code']);
      assert.equal(res.headers['retry-after'], '1');
    },
  },
  {
    name: 'Exact at the current resourceVersion (read from etcd)',
    query: (ctx) => `resourceVersion=${ctx.current}&resourceVersionMatch=Exact`,
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), NAMES);
    },
  },
  {
    name: 'not a number, from the watch cache: its parse error unconverted, a 500 without reason',
    query: () => 'resourceVersion=abc',
    check: (res) => {
      assert.equal(res.status, 500, res.text);
      assert.deepEqual(res.body, status(500, '', 'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'));
    },
  },
  {
    name: 'not a number, read from etcd (limit set): 400 BadRequest',
    query: () => 'resourceVersion=-1&limit=2',
    check: (res) => {
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(
        res.body,
        status(400, 'BadRequest', 'invalid resource version: resourceVersion: Invalid value: "-1": strconv.ParseUint: parsing "-1": invalid syntax'),
      );
    },
  },
  {
    name: 'resourceVersionMatch without resourceVersion: 422 Invalid ListOptions',
    query: () => 'resourceVersionMatch=NotOlderThan',
    check: (res) => {
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(
        res.body,
        listOptionsInvalid([{ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' }]),
      );
    },
  },
  {
    name: 'Exact with "0": 422',
    query: () => 'resourceVersion=0&resourceVersionMatch=Exact',
    check: (res) => {
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(
        res.body,
        listOptionsInvalid([{ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"' }]),
      );
    },
  },
  {
    name: 'an unknown match without resourceVersion: 422 naming both errors',
    query: () => 'resourceVersionMatch=Newest',
    check: (res) => {
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(
        res.body,
        listOptionsInvalid([
          { reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided' },
          { reason: 'FieldValueNotSupported', message: 'Unsupported value: "Newest": supported values: "Exact", "NotOlderThan", ""' },
        ]),
      );
    },
  },
  {
    name: 'resourceVersionMatch with continue: 422',
    query: async (ctx) => `limit=1&continue=${encodeURIComponent(await firstPageToken(ctx))}&resourceVersion=0&resourceVersionMatch=NotOlderThan`,
    check: (res) => {
      assert.equal(res.status, 422, res.text);
      assert.deepEqual(
        res.body,
        listOptionsInvalid([{ reason: 'FieldValueForbidden', message: 'Forbidden: resourceVersionMatch is forbidden when continue is provided' }]),
      );
    },
  },
  {
    name: 'a resourceVersion other than "0" with continue: 400',
    query: async (ctx) => `limit=1&continue=${encodeURIComponent(await firstPageToken(ctx))}&resourceVersion=${ctx.current}`,
    check: (res) => {
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body, status(400, 'BadRequest', 'specifying resource version is not allowed when using continue'));
    },
  },
  {
    name: '"0" with continue: the continue token rules, paging goes on (limit is not ignored)',
    query: async (ctx) => `limit=1&continue=${encodeURIComponent(await firstPageToken(ctx))}&resourceVersion=0`,
    check: (res) => {
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(names(res), ['lrv-b']);
      assert.equal(typeof res.body.metadata.continue, 'string');
    },
  },
];

/**
 * Resolves once the server holds the list (it waits there for its resourceVersion), so that a write
 * sent next arrives during the wait. The in-process server logs a request on arrival and gives it a
 * status when it answers; a real one counts the requests it executes, by flow: the admin's are
 * exempt, and the scrape that reads the count is one of them.
 */
async function listWaiting(api: TestApi, query: string): Promise<void> {
  const server = api.server;
  const held = server
    ? async () => server.requests.some((r) => r.method === 'GET' && r.path === NODES && r.query === query && r.status === 0)
    : async () => {
        const metrics = await api.request('GET', '/metrics');
        const line = /^apiserver_flowcontrol_current_executing_requests\{flow_schema="exempt",priority_level="exempt"\} (\d+)$/m.exec(metrics.text);
        return Number(line?.[1] ?? 0) >= 2;
      };
  await until('the list waiting at the server', async () => ((await held()) ? true : undefined), WAIT_MS);
}

async function firstPageToken(ctx: Ctx): Promise<string> {
  const first = await ctx.api.request('GET', `${NODES}?limit=1`);
  assert.equal(first.status, 200, first.text);
  return first.body.metadata.continue;
}

describe('list resourceVersion semantics', () => {
  const ctx = {} as Ctx;
  before(async () => {
    ctx.api = await startApi({ tooLargeResourceVersionWaitMs: WAIT_MS });
    const rvs: number[] = [];
    for (const name of NAMES) {
      const res = await ctx.api.request('POST', NODES, { body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });
      assert.equal(res.status, 201, res.text);
      rvs.push(Number(res.body.metadata.resourceVersion));
    }
    ctx.oldest = rvs[0]!;
    const list = await ctx.api.request('GET', NODES);
    ctx.current = Number(list.body.metadata.resourceVersion);
    assert.ok(ctx.oldest < ctx.current);
  });
  after(() => ctx.api?.stop());

  for (const c of cases) {
    it(c.name, async () => {
      const query = await c.query(ctx);
      const res = await ctx.api.request('GET', query ? `${NODES}?${query}` : NODES);
      c.check(res, ctx);
    });
  }

  it('N ahead of the server: a write that gets there during the wait answers the list', async () => {
    const wanted = ctx.current + 1;
    const listing = ctx.api.request('GET', `${NODES}?resourceVersion=${wanted}`);
    await listWaiting(ctx.api, `?resourceVersion=${wanted}`);
    const created = await ctx.api.request('POST', NODES, { body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'lrv-d' } } });
    assert.equal(created.status, 201, created.text);
    const res = await listing;
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(names(res), [...NAMES, 'lrv-d']);
    assert.ok(Number(res.body.metadata.resourceVersion) >= wanted);
  });

  it('a custom resource list at "0" ignores limit as well, and keeps its empty continue (capture 31)', async () => {
    assert.equal((await createCrd(ctx.api, fixture('gadget-crd.json'))).status, 201);
    for (const name of ['g1', 'g2']) {
      const res = await ctx.api.request('POST', GADGETS, {
        body: { apiVersion: 'wire.example/v1alpha1', kind: 'Gadget', metadata: { name }, spec: { max: 1 } },
      });
      assert.equal(res.status, 201, res.text);
    }
    const res = await ctx.api.request('GET', `${GADGETS}?resourceVersion=0&limit=1`);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(names(res), ['g1', 'g2']);
    assert.equal(res.body.metadata.continue, '');
  });
});

// The real @kubernetes/client-node against the API server: typed and custom-object
// clients, error codes surfacing as ApiException, Watch, informers, server-side apply.
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
} from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const G = { group: 'wire.example', version: 'v1alpha1', plural: 'gadgets' };
const gadget = (name: string, max: number, labels: Record<string, string> = {}) => ({
  apiVersion: 'wire.example/v1alpha1',
  kind: 'Gadget',
  metadata: { name, labels },
  spec: { max },
});

async function rejection(promise: Promise<unknown>): Promise<ApiException<string>> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected ApiException, got ${String(err)}`);
    return err as ApiException<string>;
  }
  assert.fail('expected the call to fail');
}

async function eventually<T>(read: () => T, done: (value: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = read();
    if (done(value)) return value;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('@kubernetes/client-node against the API server', () => {
  let api: TestApi;
  let kc: KubeConfig;
  before(async () => {
    api = await startApi();
    assert.equal((await createCrd(api, fixture('gadget-crd.json'))).status, 201);
    kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfig());
  });
  after(() => api?.stop());

  it('creates, reads, lists and patches custom objects (status through /status)', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const created = await custom.createClusterCustomObject({ ...G, body: gadget('cn1', 5, { tier: 'edge' }) });
    assert.equal(created.spec.mode, 'Enforce');
    const got = await custom.getClusterCustomObject({ ...G, name: 'cn1' });
    assert.equal(got.metadata.uid, created.metadata.uid);
    const listed = await custom.listClusterCustomObject({ ...G, labelSelector: 'tier=edge' });
    assert.deepEqual(
      listed.items.map((i: any) => i.metadata.name),
      ['cn1'],
    );
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const status = await custom.patchClusterCustomObjectStatus({ ...G, name: 'cn1', body: { status: { usagePercent: 12 }, spec: { max: 99 } } }, merge);
    assert.deepEqual([status.status.usagePercent, status.spec.max, status.metadata.generation], [12, 5, 1]);
    const spec = await custom.patchClusterCustomObject({ ...G, name: 'cn1', body: { spec: { max: 6 } } }, merge);
    assert.deepEqual([spec.spec.max, spec.metadata.generation], [6, 2]);
  });

  it('surfaces 409 Conflict, 404 NotFound and 422 Invalid as ApiException with the Status body', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const stale = await rejection(
      custom.replaceClusterCustomObject({ ...G, name: 'cn1', body: { ...gadget('cn1', 7), metadata: { name: 'cn1', resourceVersion: '1' } } }),
    );
    assert.equal(stale.code, 409);
    assert.equal(JSON.parse(stale.body).reason, 'Conflict');
    const missing = await rejection(kc.makeApiClient(CoreV1Api).readNode({ name: 'nope' }));
    assert.equal(missing.code, 404);
    assert.equal(JSON.parse(missing.body).message, 'nodes "nope" not found');
    const invalid = await rejection(custom.createClusterCustomObject({ ...G, body: gadget('cn-bad', 0) }));
    assert.equal(invalid.code, 422);
    assert.equal(JSON.parse(invalid.body).details.causes[0].field, 'spec.max');
  });

  it('creates Nodes and Events through CoreV1Api and selects by field', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-cn', labels: { role: 'web' } } } });
    const nodes = await core.listNode({ fieldSelector: 'metadata.name=node-cn' });
    assert.deepEqual(
      nodes.items.map((n) => n.metadata?.name),
      ['node-cn'],
    );
    await core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { generateName: 'node-cn-' },
        involvedObject: { apiVersion: 'v1', kind: 'Node', name: 'node-cn' },
        reason: 'ConntrackDrift',
        message: 'drift',
        type: 'Warning',
        count: 1,
        firstTimestamp: new Date(),
        lastTimestamp: new Date(),
      },
    });
    const events = await core.listEventForAllNamespaces({ fieldSelector: 'involvedObject.name=node-cn' });
    assert.equal(events.items.length, 1);
    assert.equal(events.items[0]?.reason, 'ConntrackDrift');
    assert.ok(events.items[0]?.lastTimestamp instanceof Date);
  });

  it('streams events to Watch in order', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const list = await custom.listClusterCustomObject({ ...G });
    const seen: string[] = [];
    const controller = await new Watch(kc).watch(
      '/apis/wire.example/v1alpha1/gadgets',
      { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
      (type, obj) => {
        if (type !== 'BOOKMARK') seen.push(`${type} ${obj.metadata.name}`);
      },
      () => undefined,
    );
    await custom.createClusterCustomObject({ ...G, body: gadget('cn-w', 1) });
    await custom.patchClusterCustomObject({ ...G, name: 'cn-w', body: { spec: { max: 2 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    await custom.deleteClusterCustomObject({ ...G, name: 'cn-w' });
    await eventually(
      () => seen,
      (s) => s.length >= 3,
      'three watch events',
    );
    controller.abort();
    assert.deepEqual(seen, ['ADDED cn-w', 'MODIFIED cn-w', 'DELETED cn-w']);
  });

  it('keeps an informer cache in step with the server', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const informer = makeInformer<KubernetesObject>(
      kc,
      '/apis/wire.example/v1alpha1/gadgets',
      () => custom.listClusterCustomObject({ ...G, labelSelector: 'informed=yes' }) as never,
      'informed=yes',
    );
    const added: string[] = [];
    informer.on('add', (obj) => added.push(obj.metadata?.name ?? ''));
    await custom.createClusterCustomObject({ ...G, body: gadget('inf-1', 1, { informed: 'yes' }) });
    await informer.start();
    await custom.createClusterCustomObject({ ...G, body: gadget('inf-2', 1, { informed: 'yes' }) });
    await custom.createClusterCustomObject({ ...G, body: gadget('inf-x', 1, { informed: 'no' }) });
    await eventually(
      () =>
        informer
          .list()
          .map((o) => o.metadata?.name)
          .sort(),
      (names) => names.length === 2,
      'both informed objects',
    );
    await informer.stop();
    assert.deepEqual(added.sort(), ['inf-1', 'inf-2']);
  });

  it('applies server-side through KubernetesObjectApi', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const spec = gadget('cn-ssa', 3) as KubernetesObject;
    const applied = await objects.patch(spec, undefined, undefined, 'conntrack-agent', true, PatchStrategy.ServerSideApply);
    assert.equal((applied as any).spec.max, 3);
    const again = await objects.patch(
      { ...spec, spec: { max: 4 } } as KubernetesObject,
      undefined,
      undefined,
      'conntrack-agent',
      true,
      PatchStrategy.ServerSideApply,
    );
    assert.deepEqual([(again as any).spec.max, again.metadata?.generation], [4, 2]);
    assert.ok(again.metadata?.managedFields?.some((m) => m.manager === 'conntrack-agent' && m.operation === 'Apply'));
  });
});

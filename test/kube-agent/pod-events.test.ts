// A pod's network namespace that fills, as the agent reports it in a cluster:
// the agent's cache of its node's pods (list + watch, fieldSelector
// spec.nodeName, as the chart's role allows) names the pod, the status row
// carries its namespace and name, and the table-full event lands on the Pod
// (in its namespace) as well as on the Node. On the test API server and a real
// kube-apiserver alike. The census reads a real /proc, whose namespaces have no
// kubelet pods here: the reporter is fed a status built from a census row
// carrying the Pod's UID.
import { nodeCidrs } from '../../src/policy/cluster-cidrs.js';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import type { NetnsCensusRow } from '../../src/kernel/netns-census.js';
import { ClusterApi, loadKubeConfig } from '../../src/kube/cluster-api.js';
import { NodePods } from '../../src/kube/node-pods.js';
import { clusterReporter } from '../../src/kube/node-reporter.js';
import { realTiming } from '../../src/kube/reflector.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_PRESSURE } from '../../src/api/v1alpha1/policy-rules.js';
import { buildNetnsStatus, netnsDrops, type PodNames } from '../../src/report/netns-status.js';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import type { HostSnapshot } from '../../src/kernel/snapshot.js';
import type { WatchView } from '../../src/report/forecast.js';
import { buildNodeStatus } from '../../src/report/node-status.js';
import { AGENT_USER, nodeEvents, startCluster, until, type TestCluster } from './support.js';
import { silentLog } from '../support/silent-log.js';
import { censusOf, censusRow } from '../support/census.js';

const NODE = 'node-pods-1';
const NS = 'shop';
const MAX = 1000;

let cluster: TestCluster;
let pods: NodePods;
const warnings: string[] = [];
let listedUid: string;
let elsewhereUid: string;

async function create(path: string, body: object): Promise<any> {
  const r = await cluster.api.request('POST', path, { body });
  assert.ok(r.status < 300, `POST ${path}: ${r.status} ${r.text}`);
  return r.body;
}

/** A Pod bound to `node`, as the scheduler leaves it; returns its UID. */
async function pod(name: string, node: string): Promise<string> {
  const body = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'registry.example/app:1' }] },
  };
  return (await create(`/api/v1/namespaces/${NS}/pods`, body)).metadata.uid;
}

const row = (inode: number, entries: number, drop: number, podUid: string | null): NetnsCensusRow =>
  censusRow({ key: inode, entries, counters: { drop, insertFailed: 0, earlyDrop: 0 }, podUid });
const doc = (namespaces: NodeStatusDoc['namespaces']): NodeStatusDoc => ({
  nodeName: NODE,
  lastProbeTime: new Date().toISOString(),
  kernel: { release: '6.18.0', conntrackLoaded: true, notrackBackend: 'none', tableSource: 'none' },
  driftCount: 0,
  conditions: [],
  namespaces,
});

before(async () => {
  cluster = await startCluster(NODE, { role: 'none' });
  await create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  // kube-apiserver's ServiceAccount admission wants the pod's service account to exist.
  await create(`/api/v1/namespaces/${NS}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
  const log = silentLog({ warn: (_o, msg) => void warnings.push(msg) });
  listedUid = await pod('web-1', NODE);
  elsewhereUid = await pod('web-2', 'another-node');
  pods = new NodePods(new ClusterApi(loadKubeConfig(cluster.api.kubeconfig(AGENT_USER))), NODE, realTiming(), log);
  pods.start();
});
after(async () => {
  await pods?.stop();
  await cluster?.api.stop();
});

test("the agent's pod cache names its node's pods only, and follows the watch", { timeout: 60_000 }, async () => {
  await until('web-1 listed', async () => pods.lookup(listedUid), 20_000);
  assert.deepEqual(pods.lookup(listedUid), { namespace: NS, name: 'web-1' });
  const added = await pod('web-3', NODE);
  await until('web-3 seen through the watch', async () => pods.lookup(added), 20_000);
  assert.equal(pods.lookup(elsewhereUid), undefined, 'a pod of another node is not listed');
  const r = await cluster.api.request('DELETE', `/api/v1/namespaces/${NS}/pods/web-3?gracePeriodSeconds=0`);
  assert.ok(r.status < 300, `DELETE: ${r.status} ${r.text}`);
  await until('web-3 forgotten', async () => (pods.lookup(added) ? undefined : true), 20_000);
  assert.deepEqual(warnings, []);
});

test('a full pod namespace: the row names the pod, and the event lands on the Pod and on the Node', { timeout: 60_000 }, async () => {
  const uid = await pod('cache-1', NODE);
  await until('cache-1 listed', async () => pods.lookup(uid), 20_000);
  const lookup: PodNames = pods.lookup;
  const first = censusOf([row(1, 10, 0, null), row(20, 900, 3, uid)]);
  const second = censusOf([row(1, 10, 0, null), row(20, 1000, 15, uid)]);
  const previous = doc(buildNetnsStatus(first, null, MAX, DEFAULT_PRESSURE, lookup));
  const status = doc(buildNetnsStatus(second, netnsDrops(first), MAX, DEFAULT_PRESSURE, lookup));
  assert.deepEqual(status.namespaces!.full, [
    { inode: 20, pid: 20, entries: 1000, usagePercent: 100, drop: 15, dropsRising: 12, podUid: uid, podNamespace: NS, podName: 'cache-1' },
  ]);

  const api = new ClusterApi(loadKubeConfig(cluster.api.kubeconfig(AGENT_USER)));
  const logged: string[] = [];
  const sink = new Writable({ write: (chunk, _enc, cb) => (logged.push(String(chunk)), cb()) });
  const report = clusterReporter(api, NODE, () => ({ name: NODE, uid: cluster.nodeUid }), Date.now, createLogger('warn', NODE, sink));
  await report(status, { kind: 'no-policy' }, previous);
  assert.deepEqual(logged, [], 'no event was refused');

  const r = await cluster.api.request('GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=cache-1')}`);
  const onPod = (r.body.items as any[]).filter((e) => e.reason === 'ConntrackTableFull');
  assert.equal(onPod.length, 1, JSON.stringify(r.body.items));
  assert.deepEqual(onPod[0].involvedObject, { apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'cache-1', uid });
  assert.equal(onPod[0].type, 'Warning');
  assert.match(
    onPod[0].message,
    new RegExp(`^Connection tracking table FULL in network namespace 20 \\(pod ${NS}/cache-1, UID ${uid}\\) on ${NODE}: 12 new connections dropped`),
  );
  const onNode = (await nodeEvents(cluster.api, NODE)).filter((e) => e.reason === 'ConntrackTableFull');
  assert.deepEqual(
    onNode.map((e) => e.message),
    [onPod[0].message],
    'the same event on the Node',
  );
});

test('a pod namespace filling up: ConntrackTableFillingUp lands on the Pod and on the Node, once, before any drop', { timeout: 60_000 }, async () => {
  const uid = await pod('api-1', NODE);
  await until('api-1 listed', async () => pods.lookup(uid), 20_000);
  const snapshot: HostSnapshot = {
    kernelRelease: '6.18.0',
    moduleLoaded: true,
    netns: { host: true, inode: 1 },
    table: { count: 10, max: MAX, buckets: 1024, hashsize: 1024 },
    sysctls: {},
    stats: { source: 'stat-file', counters: { drop: 0, insertFailed: 0 }, entries: 10, cpus: 1, missing: [] },
    memory: { memTotalBytes: null, slabObjectSize: null },
    kubeProxy: null,
    unreadable: [],
  };
  const filling = (on: boolean): WatchView => ({
    focus: {
      ns: { key: 21, inode: 20, pid: 20, host: false, podUid: uid },
      entries: 600,
      forecast: { ratePerSecond: 40, level: 600, secondsToFull: on ? 10 : 300, windowSeconds: 10, samples: 11 },
    },
    filling: on,
    horizonSeconds: 60,
    atMs: Date.now(),
  });
  const pass = (on: boolean) =>
    buildNodeStatus({
      nodeName: NODE,
      now: new Date(),
      snapshot,
      cidrs: nodeCidrs({ serviceCidrs: [], podCidrs: [] }, null, false),
      summary: null,
      tableSource: 'none',
      notrackBackend: 'none',
      outcome: { kind: 'no-policy' },
      baseline: { values: {}, notrackOwned: false },
      drops: { window: { seconds: 30, tableFull: 0, insertionRace: 0, earlyDrop: 0, insertFailed: 0, clashResolved: null }, kernelLoggedFull: false },
      namespaces: { census: censusOf([row(1, 10, 0, null), row(20, 600, 0, uid)]), previousDrops: null, podNames: pods.lookup },
      watch: filling(on),
      previousConditions: [],
    }).status;
  const report = clusterReporter(
    new ClusterApi(loadKubeConfig(cluster.api.kubeconfig(AGENT_USER))),
    NODE,
    () => ({ name: NODE, uid: cluster.nodeUid }),
    Date.now,
    createLogger('warn', NODE, new Writable({ write: (_c, _e, cb) => cb() })),
  );
  const calm = pass(false);
  const on = pass(true);
  await report(on, { kind: 'no-policy' }, calm);
  await report(on, { kind: 'no-policy' }, on); // still filling: nothing new
  const r = await cluster.api.request('GET', `/api/v1/namespaces/${NS}/events?fieldSelector=${encodeURIComponent('involvedObject.name=api-1')}`);
  const onPod = (r.body.items as any[]).filter((e) => e.reason === 'ConntrackTableFillingUp');
  assert.equal(onPod.length, 1, JSON.stringify(r.body.items));
  assert.equal(onPod[0].count ?? 1, 1);
  assert.deepEqual(onPod[0].involvedObject, { apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'api-1', uid });
  assert.equal(
    onPod[0].message,
    `Connection tracking on ${NODE} is filling up. Full in ~10 s at +40 entries/s in pod ${NS}/api-1 (netns 20), before any drop: no policy selects this node, so nothing grows max (1,000): track less (a NOTRACK rule for what fills it) or expire sooner (shorter timeouts).`,
  );
  const onNode = (await nodeEvents(cluster.api, NODE)).filter((e) => e.reason === 'ConntrackTableFillingUp');
  assert.deepEqual(
    onNode.map((e) => e.message),
    [onPod[0].message],
  );
});

// The policy controller's retries of a failed status write, on a fake clock
// that runs its timers: per policy exponential backoff with jitter, forgotten
// on success; a 4xx other than 409/429 is not retried until the policy changes.
// The API is an in-memory one: lists and watches like the server's, and a
// status write that fails as scripted, else stores the status under a new
// resourceVersion and sends the watch event the server would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException } from '@kubernetes/client-node';
import { PolicyController, WRITE_BACKOFF } from '../../src/controller/policy-controller.js';
import { POLICY_RESOURCE } from '../../src/api/v1alpha1/names.js';
import type { ClusterApi, CustomObject } from '../../src/kube/cluster-api.js';
import { realTiming, type KubeObject, type ListWatch, type WatchEventType } from '../../src/kube/reflector.js';
import { FakeClock, T0, queueClock } from './fake-clock.js';

type Answer = number | 'refused' | 'ok';
const apiError = (code: number) => new ApiException(code, `HTTP ${code}`, { kind: 'Status', code }, {});
const refused = () => Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), { code: 'ECONNREFUSED' });

class FakeCluster {
  private readonly policies = new Map<string, CustomObject>();
  private readonly watchers = new Map<string, Array<(type: WatchEventType, obj: unknown) => void>>();
  private rv = 10;
  /** Status writes tried, at ms since T0. */
  readonly writes: Array<{ at: number; name: string; status: unknown }> = [];
  /** How the next status writes fail; none left: they succeed. */
  answers: Answer[] = [];

  constructor(private readonly clock: FakeClock) {}

  /** Create or edit a policy (as kubectl apply): a new resourceVersion and generation, and a watch event. */
  apply(name: string, spec: object): void {
    const old = this.policies.get(name);
    const generation = (old?.metadata.generation ?? 0) + 1;
    const obj = {
      apiVersion: 'conntrack.io/v1alpha1',
      kind: 'ConntrackPolicy',
      ...old,
      metadata: { name, generation, resourceVersion: String(++this.rv) },
      spec,
    };
    this.store(obj, old ? 'MODIFIED' : 'ADDED');
  }

  /** A node joins: a watch event for the controller, not a change of any policy. */
  addNode(name: string, labels: Record<string, string> = { role: 'web' }): void {
    for (const w of this.watchers.get('nodes') ?? []) w('ADDED', { metadata: { name, resourceVersion: String(++this.rv), labels } });
  }

  customListWatch(plural: string): ListWatch<CustomObject> {
    return this.listWatch(plural, () => (plural === POLICY_RESOURCE.plural ? [...this.policies.values()].map((o) => structuredClone(o)) : []));
  }

  nodeListWatch(): ListWatch<KubeObject> {
    return this.listWatch('nodes', () => []);
  }

  async replaceCustomStatus(_plural: string, body: CustomObject): Promise<CustomObject> {
    this.writes.push({ at: this.clock.now() - T0, name: body.metadata.name, status: body.status });
    const answer = this.answers.shift() ?? 'ok';
    if (answer === 'refused') throw refused();
    if (answer !== 'ok') throw apiError(answer);
    return this.setStatus(body.metadata.name, body.status);
  }

  /** A status write that succeeded, the controller's or another writer's. */
  setStatus(name: string, status: unknown): CustomObject {
    const old = this.policies.get(name)!;
    const stored = { ...old, status, metadata: { ...old.metadata, resourceVersion: String(++this.rv) } };
    this.store(stored, 'MODIFIED');
    return stored;
  }

  private store(obj: CustomObject, type: WatchEventType): void {
    this.policies.set(obj.metadata.name, obj);
    for (const w of this.watchers.get(POLICY_RESOURCE.plural) ?? []) w(type, structuredClone(obj));
  }

  private listWatch<T extends KubeObject>(kind: string, items: () => T[]): ListWatch<T> {
    return {
      list: async () => ({ items: items(), resourceVersion: String(this.rv) }),
      watch: async (_rv, onEvent, done) => {
        this.watchers.set(kind, [...(this.watchers.get(kind) ?? []), onEvent]);
        return { abort: () => done() };
      },
    };
  }
}

const SPEC = { nodeSelector: { matchLabels: { role: 'web' } }, timeouts: { tcp: { establishedSeconds: 600 } } };

/** A leading controller on a fake clock, with one policy "web" whose first status write is due at 500 ms (the debounce). */
async function leading(answers: Answer[], random = () => 0.5) {
  const clock = new FakeClock();
  const cluster = new FakeCluster(clock);
  cluster.apply('web', SPEC);
  cluster.answers = [...answers];
  const logged: Array<{ level: string; msg: string; policy?: string }> = [];
  const log = (level: string) => (o: object, msg: string) => void logged.push({ level, msg, ...o });
  const quiet = { info: log('info'), warn: log('warn'), debug: log('debug'), error: log('error') };
  const controller = new PolicyController(cluster as unknown as ClusterApi, realTiming(), quiet, queueClock(clock, random));
  controller.start();
  controller.setLeading(true);
  return { clock, cluster, controller, logged, writeTimes: () => cluster.writes.map((w) => w.at) };
}

/** The retry delays the backoff gives with random() = 0.5: d * (1 + jitter / 2) for d = 1 s, 2 s, 4 s, ... */
const retryDelay = (failure: number) => Math.min(WRITE_BACKOFF.initialMs * 2 ** (failure - 1), WRITE_BACKOFF.maxMs) * (1 + 0.5 * WRITE_BACKOFF.jitter);
/** When each write happens after failures at 500 ms, then at each retry. */
const writesAfter = (failures: number) =>
  Array.from({ length: failures + 1 }, (_, i) => 500 + Array.from({ length: i }, (_, j) => retryDelay(j + 1)).reduce((a, b) => a + b, 0));

const retried: Array<{ name: string; answers: Answer[] }> = [
  { name: '409 Conflict', answers: [409, 409, 409] },
  { name: '500 Internal Server Error', answers: [500, 500, 500] },
  { name: '429 Too Many Requests and 503', answers: [429, 503, 429, 503] },
  { name: 'a refused connection', answers: ['refused', 'refused'] },
  { name: '401 (credentials being rotated) and 408', answers: [401, 408, 401] },
  { name: '403 (the RBAC role not bound yet)', answers: [403, 403] },
  { name: 'a mix: 500, 409, a refused connection, 500', answers: [500, 409, 'refused', 500] },
];

for (const c of retried) {
  test(`a status write failing with ${c.name} is retried with growing, jittered delays until it succeeds`, async () => {
    const { clock, controller, writeTimes } = await leading(c.answers);
    await clock.advance(10 * 60_000);
    await controller.stop();
    assert.deepEqual(writeTimes(), writesAfter(c.answers.length));
    const t = writeTimes();
    const gaps = t.slice(1).map((x, i) => x - t[i]!);
    assert.ok(
      gaps.every((g, i) => i === 0 || g === 2 * gaps[i - 1]!),
      `delays do not double: ${gaps}`,
    );
  });
}

test('the delays stay within [d, d * (1 + jitter)] and differ with another random source', async () => {
  const gapsWith = async (random: () => number) => {
    const { clock, controller, writeTimes } = await leading([500, 500, 500, 500], random);
    await clock.advance(10 * 60_000);
    await controller.stop();
    const t = writeTimes();
    return t.slice(1).map((x, i) => x - t[i]!);
  };
  const low = await gapsWith(() => 0);
  const high = await gapsWith(() => 0.999);
  assert.deepEqual(low, [1000, 2000, 4000, 8000]);
  high.forEach((g, i) => assert.ok(g > low[i]! && g <= low[i]! * (1 + WRITE_BACKOFF.jitter), `retry ${i + 1} after ${g}ms`));
});

test('the backoff is capped at maxMs (plus jitter)', async () => {
  const failures = 12;
  const { clock, controller, writeTimes } = await leading(
    Array.from({ length: failures }, () => 500),
    () => 0,
  );
  await clock.advance(60 * 60_000);
  await controller.stop();
  const t = writeTimes();
  assert.equal(t.length, failures + 1);
  assert.equal(Math.max(...t.slice(1).map((x, i) => x - t[i]!)), WRITE_BACKOFF.maxMs);
});

test('success resets the backoff: the next failure waits the first delay again', async () => {
  const { clock, cluster, controller, writeTimes } = await leading([500, 500, 500]);
  await clock.advance(60_000);
  assert.deepEqual(writeTimes(), writesAfter(3));
  cluster.answers = [500];
  cluster.apply('web', { ...SPEC, timeouts: { tcp: { establishedSeconds: 900 } } }); // a new generation: a new status to write
  const edited = clock.now() - T0;
  await clock.advance(60_000);
  await controller.stop();
  assert.deepEqual(writeTimes().slice(4), [edited + 500, edited + 500 + retryDelay(1)]);
});

test('a held policy that changes is written at its next pass, not after the backoff; the failure count goes on', async () => {
  const { clock, cluster, controller, writeTimes } = await leading([500, 500, 500, 500]);
  await clock.advanceTo(5000); // failed at 500, 1750, 4250; the next retry is due at 9250
  cluster.apply('web', { ...SPEC, timeouts: { tcp: { establishedSeconds: 900 } } });
  await clock.advance(60_000);
  await controller.stop();
  assert.deepEqual(writeTimes(), [500, 1750, 4250, 5500, 5500 + retryDelay(4)]);
});

for (const code of [400, 422]) {
  test(`a status write refused with ${code} is not retried until the policy or its status changes, and is logged once`, async () => {
    const { clock, cluster, controller, logged, writeTimes } = await leading([code]);
    await clock.advance(60_000);
    // Other watch events make passes; the refused write, the same request again, stays held.
    const passes = controller.stats.passes;
    cluster.addNode('n1', { role: 'db' });
    await clock.advance(10 * 60_000);
    assert.ok(controller.stats.passes > passes, 'no pass ran after the node event');
    assert.deepEqual(writeTimes(), [500]);
    const errors = logged.filter((l) => l.level === 'error');
    assert.deepEqual(
      errors.map((l) => [l.policy, l.msg]),
      [['web', 'the API refused the policy status; not retrying until it changes']],
    );
    cluster.apply('web', { ...SPEC, timeouts: { tcp: { establishedSeconds: 900 } } });
    const edited = clock.now() - T0;
    await clock.advance(60_000);
    await controller.stop();
    assert.deepEqual(writeTimes(), [500, edited + 500]);
    assert.equal(cluster.writes.length, 2);
  });
}

test('a status refused with 422 is tried again once the status to write changes (a selected node joins), without a policy change', async () => {
  const { clock, cluster, controller, writeTimes } = await leading([422]);
  await clock.advance(60_000);
  assert.deepEqual(writeTimes(), [500]);
  cluster.addNode('n1', { role: 'web' });
  const joined = clock.now() - T0;
  await clock.advance(60_000);
  await controller.stop();
  assert.deepEqual(writeTimes(), [500, joined + 500]);
  assert.notDeepEqual(cluster.writes[1]!.status, cluster.writes[0]!.status);
});

test('a held write with nothing left to write (another writer set the same status) is forgotten: no retry, no timer', async () => {
  const { clock, cluster, controller, writeTimes } = await leading([500]);
  await clock.advance(600);
  assert.deepEqual(writeTimes(), [500]);
  cluster.setStatus('web', structuredClone(cluster.writes[0]!.status));
  await clock.advance(10 * 60_000);
  assert.deepEqual(writeTimes(), [500]);
  assert.equal(clock.timers.size, 0, 'a timer is still armed');
  await controller.stop();
});

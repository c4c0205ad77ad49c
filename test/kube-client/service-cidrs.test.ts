// The agent's view of the cluster's Service ranges, on a fake list/watch that fails
// as the API does: every ServiceCIDR's ranges from the list and the watch, kept in
// the state dir for a restart while the API is down; an API that is not served is
// said once and asked again only after NOT_SERVED_RETRY_MS; a refusal (403) leaves
// the ranges unknown, said once at warn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiNotServed } from '../../src/kube/cluster-api.js';
import { NOT_SERVED_RETRY_MS, ServiceCidrs } from '../../src/kube/service-cidrs.js';
import type { KubeObject, ListWatch, ReflectorTiming, WatchEventType } from '../../src/kube/reflector.js';
import { until } from '../support/until.js';
import { silentLog } from '../support/silent-log.js';

const serviceCidr = (name: string, cidrs: string[], rv: number): KubeObject => ({ metadata: { name, resourceVersion: String(rv) }, spec: { cidrs } });
const forbidden = () => Object.assign(new Error('servicecidrs.networking.k8s.io is forbidden'), { statusCode: 403 });

/** Lists answer from `lists` in turn (the last one repeats); watches deliver `events` once, then stay open. */
function fakeApi(lists: Array<KubeObject[] | Error>, events: Array<[WatchEventType, KubeObject]> = []) {
  const calls = { lists: 0 };
  const lw: ListWatch<KubeObject> = {
    list: async () => {
      calls.lists++;
      const next = lists.length > 1 ? lists.shift()! : lists[0]!;
      if (next instanceof Error) throw next;
      return { items: next, resourceVersion: '1' };
    },
    watch: async (_rv, onEvent, done) => {
      setImmediate(() => events.splice(0).forEach(([t, o]) => onEvent(t, o)));
      return { abort: () => done(Object.assign(new Error('aborted'), { name: 'AbortError' })) };
    },
  };
  return { api: { serviceCidrListWatch: () => lw }, calls };
}

function timingAt(clock: { ms: number }): ReflectorTiming {
  return {
    backoffInitialMs: 1,
    backoffMaxMs: 2,
    backoffJitter: 0,
    backoffResetMs: 60_000,
    resyncMs: 60_000,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    now: () => clock.ms,
    random: () => 0,
  };
}

function logs() {
  const lines: string[] = [];
  const log = silentLog({ info: (_o, m) => void lines.push(`info ${m}`), warn: (_o, m) => void lines.push(`warn ${m}`) });
  return { lines, log };
}

async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-service-cidrs-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('every ServiceCIDR, from the list and the watch; kept for an agent restarted while the API is down', async () => {
  await withStateDir(async (dir) => {
    const { api } = fakeApi([[serviceCidr('kubernetes', ['10.0.0.0/24'], 1)]], [['ADDED', serviceCidr('extra', ['10.96.0.0/16', 'fd00:10:96::/112'], 2)]]);
    const { lines, log } = logs();
    const cidrs = new ServiceCidrs(api, dir, timingAt({ ms: 0 }), log);
    let changes = 0;
    cidrs.onChange(() => changes++);
    assert.deepEqual(cidrs.current(), { cidrs: null, why: 'not read from the API yet' });
    await cidrs.start();
    try {
      await until('the watch applied', async () => (cidrs.current().cidrs?.length === 3 ? true : undefined), 2000);
      assert.deepEqual(cidrs.current(), { cidrs: ['10.0.0.0/24', '10.96.0.0/16', 'fd00:10:96::/112'], from: 'ServiceCIDR extra, kubernetes' });
      assert.equal(changes, 2, 'the list, then the ServiceCIDR added');
      assert.deepEqual(lines, []);
    } finally {
      await cidrs.stop();
    }
    await until('kept in the state dir', async () =>
      (await readFile(join(dir, 'service-cidrs.json'), 'utf8').catch(() => '')).includes('fd00') ? true : undefined,
    );

    const down = new ServiceCidrs(
      fakeApi([Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })]).api,
      dir,
      timingAt({ ms: 0 }),
      silentLog(),
    );
    await down.start();
    try {
      await until('the API tried', async () => (down.current().cidrs ? true : undefined), 2000);
      assert.deepEqual(down.current(), {
        cidrs: ['10.0.0.0/24', '10.96.0.0/16', 'fd00:10:96::/112'],
        from: 'ServiceCIDR extra, kubernetes, as last read: the API has not answered since the agent started',
      });
    } finally {
      await down.stop();
    }
  });
});

test('the API not served: not known, said once at info, asked again only after NOT_SERVED_RETRY_MS', async () => {
  await withStateDir(async (dir) => {
    const clock = { ms: 1_000_000 };
    const { api, calls } = fakeApi([new ApiNotServed('neither v1 nor v1beta1 is served'), [serviceCidr('kubernetes', ['10.0.0.0/24'], 5)]]);
    const { lines, log } = logs();
    const timing = timingAt(clock);
    let backoffs = 0;
    const counted: ReflectorTiming = { ...timing, sleep: (ms, signal) => (backoffs++, timing.sleep(ms, signal)) };
    const cidrs = new ServiceCidrs(api, dir, counted, log);
    await cidrs.start();
    try {
      await until('the first list', async () => (calls.lists === 1 ? true : undefined), 2000);
      // The reflector retries at its backoff (1-2 ms here) many times over: none reaches the API.
      const from = backoffs;
      await until('ten retries, or a second list', async () => (backoffs >= from + 10 || calls.lists > 1 ? true : undefined), 2000);
      assert.equal(calls.lists, 1, 'not asked again before the retry period');
      const why = cidrs.current();
      assert.equal(why.cidrs, null);
      assert.match(why.cidrs === null ? why.why : '', /^the ServiceCIDR API is not served \(networking\.k8s\.io\/v1 from Kubernetes 1\.33/);
      assert.deepEqual(
        lines.map((l) => l.replace(/:.*/, '')),
        ['info cannot list the ServiceCIDRs'],
        'said once, at info: nothing is wrong with this cluster',
      );
      clock.ms += NOT_SERVED_RETRY_MS;
      await until('asked again, and read', async () => (cidrs.current().cidrs ? true : undefined), 2000);
      assert.equal(calls.lists, 2);
    } finally {
      await cidrs.stop();
    }
  });
});

test('refused (403): not known, why named, logged once at warn while the reflector retries', async () => {
  await withStateDir(async (dir) => {
    const { api, calls } = fakeApi([forbidden()]);
    const { lines, log } = logs();
    const cidrs = new ServiceCidrs(api, dir, timingAt({ ms: 0 }), log);
    await cidrs.start();
    try {
      await until('several retries', async () => (calls.lists >= 5 ? true : undefined), 2000);
      assert.deepEqual(cidrs.current(), {
        cidrs: null,
        why: 'not allowed to list servicecidrs.networking.k8s.io (grant list and watch on them in the agent ClusterRole)',
      });
      assert.equal(lines.filter((l) => l.startsWith('warn')).length, 1, lines.join('\n'));
    } finally {
      await cidrs.stop();
    }
  });
});

test('the API lists no ServiceCIDR: the ranges are not known, not "none"', async () => {
  await withStateDir(async (dir) => {
    const cidrs = new ServiceCidrs(fakeApi([[]]).api, dir, timingAt({ ms: 0 }), silentLog());
    await cidrs.start();
    try {
      await until('listed', async () =>
        cidrs.current().cidrs === null && (cidrs.current() as { why: string }).why !== 'not read from the API yet' ? true : undefined,
      );
      assert.deepEqual(cidrs.current(), { cidrs: null, why: 'the ServiceCIDR API lists no ranges' });
    } finally {
      await cidrs.stop();
    }
  });
});

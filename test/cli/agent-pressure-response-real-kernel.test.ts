// Root only, real kernel: the standalone agent runs inside a network namespace
// this test creates (timeouts are per namespace), with a policy whose pressure
// response starts at 2% of the global max. A bounded fill of UNREPLIED UDP
// entries (sends to 127.0.0.0/8) crosses it: the timeouts are lowered and the
// status file says so; a flush drains the table below stopPercent: the
// policy's own value comes back, and the key the policy does not set goes
// back to the namespace's own. The global max is only read, never changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { execInOk, makeUdpFlows, realKernelSkipReason, setNetnsSysctl } from '../support/netns.js';
import { until } from '../support/until.js';
import { ERROR_LINE } from './cli-support.js';
import { appliedTrue, withAgent } from './agent-run.js';

const skip = realKernelSkipReason(['ip', 'nft', 'conntrack', 'sysctl']);
const TW = 'nf_conntrack_tcp_timeout_time_wait';
const EST = 'nf_conntrack_tcp_timeout_established';
const START_PERCENT = 2;

const POLICY = `apiVersion: conntrack.io/v1alpha1
kind: ConntrackPolicy
metadata: {name: busy}
spec:
  mode: Enforce
  timeouts: {tcp: {timeWaitSeconds: 60}}
  pressureResponse:
    startPercent: ${START_PERCENT}
    stopPercent: 1
    timeouts: {tcp: {timeWaitSeconds: 10, establishedSeconds: 600}}
`;

test(
  'pressure response on the real kernel: timeouts lowered past startPercent, shown in the status, the own values back below stopPercent',
  { skip, timeout: 120_000 },
  async () => {
    const log = await withAgent('pressure', POLICY, async (run) => {
      const { ns } = run;
      const read = async (key: string) => Number(await execInOk(ns, 'cat', [`/proc/sys/net/netfilter/${key}`]));
      const own = { [TW]: 60, [EST]: await read(EST) };
      // The fill's entries must outlive the test's few seconds of waiting.
      await setNetnsSysctl(ns, 'nf_conntrack_udp_timeout', 300);
      const agent = run.start(['--interval', '1s', '--notrack-backend', 'nftables', '--metrics-addr', '127.0.0.1:0']);
      const seen = (what: string, ok: (s: NodeStatusDoc) => boolean) => run.statusWhen(what, ok, 30_000);
      const responseCondition = (s: NodeStatusDoc) => s.conditions.find((c) => c.type === 'PressureResponse');

      const quiet = await seen('the policy applied', appliedTrue);
      assert.equal(responseCondition(quiet)?.reason, 'Inactive');
      assert.deepEqual({ [TW]: await read(TW), [EST]: await read(EST) }, own);

      const max = await read('nf_conntrack_max');
      const fill = Math.ceil((max * (START_PERCENT + 1)) / 100);
      await makeUdpFlows(ns, fill);
      const active = await seen(
        'the response active in the status file',
        (s) => s.pressureResponse?.active === true && responseCondition(s)?.status === 'True',
      );
      assert.deepEqual(active.pressureResponse?.timeouts, { [EST]: 600, [TW]: 10 });
      assert.equal(active.pressureResponse?.enforced, true);
      assert.match(
        responseCondition(active)!.message,
        /reached 2% .*nf_conntrack_tcp_timeout_established=600s, nf_conntrack_tcp_timeout_time_wait=10s in place/,
      );
      await until('the lowered timeouts in the kernel', async () => ((await read(TW)) === 10 ? true : undefined), 10_000);
      assert.equal(await read(EST), 600);

      await execInOk(ns, 'conntrack', ['-F']);
      const ended = await seen(
        'the response ended in the status file',
        (s) => s.pressureResponse?.active === false && s.pressureResponse.since !== active.pressureResponse?.since,
      );
      assert.equal(responseCondition(ended)?.reason, 'Inactive');
      assert.equal(ended.pressureResponse?.timeouts, undefined);
      await until('the own values back in the kernel', async () => ((await read(TW)) === 60 ? true : undefined), 10_000);
      assert.equal(await read(EST), own[EST], "the key the policy does not set is the namespace's own again");
      assert.equal(ended.conditions.find((c) => c.type === 'Drifted')?.status, 'False', 'our own writes are not drift');

      assert.match(agent.log(), /"msg":"pressure response started: shorter timeouts in force"/);
      assert.match(agent.log(), /"msg":"pressure response ended: the policy's own timeouts are back"/);
    });
    assert.doesNotMatch(log, ERROR_LINE, log);
  },
);

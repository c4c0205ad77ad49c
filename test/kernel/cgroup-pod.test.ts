import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podUidFromCgroup } from '../../src/kernel/cgroup-pod.js';

const UID = '0f3b0c1e-7a2d-4c55-9a8e-2b6f1d4e9c01';
const UID_ = UID.replaceAll('-', '_');
const STATIC = '6c2f1d0b9ea4a47a3c8e8f2d4e5d3f1a'; // a static pod: 32 hex digits, the kubelet's manifest hash
const CTR = 'cri-containerd-4a1b2c3d4e5f60718293a4b5c6d7e8f90123456789abcdef0123456789abcdef.scope';

const cases: Array<{ name: string; cgroup: string; want: string | null }> = [
  {
    name: 'cgroup v2, systemd driver, burstable',
    cgroup: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/${CTR}\n`,
    want: UID,
  },
  {
    name: 'cgroup v2, systemd driver, besteffort',
    cgroup: `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/${CTR}\n`,
    want: UID,
  },
  { name: 'cgroup v2, systemd driver, guaranteed (no QoS slice)', cgroup: `0::/kubepods.slice/kubepods-pod${UID_}.slice/${CTR}\n`, want: UID },
  {
    name: 'cgroup v2, systemd driver, the pod slice itself (pause process)',
    cgroup: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice\n`,
    want: UID,
  },
  { name: 'cgroup v2, cgroupfs driver, burstable', cgroup: `0::/kubepods/burstable/pod${UID}/4a1b2c3d4e5f\n`, want: UID },
  { name: 'cgroup v2, cgroupfs driver, guaranteed', cgroup: `0::/kubepods/pod${UID}/4a1b2c3d4e5f\n`, want: UID },
  { name: 'cgroup v2 seen from a private cgroup namespace', cgroup: `0::/../../kubepods-besteffort-pod${UID_}.slice/${CTR}\n`, want: UID },
  {
    name: 'kind node (kubelet cgroup root /kubelet.slice)',
    cgroup: `0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/${CTR}\n`,
    want: UID,
  },
  {
    name: 'cgroup v1, cgroupfs driver, every hierarchy',
    cgroup: [
      `12:pids:/kubepods/besteffort/pod${UID}/abc`,
      `11:memory:/kubepods/besteffort/pod${UID}/abc`,
      `1:name=systemd:/kubepods/besteffort/pod${UID}/abc`,
      '0::/',
    ].join('\n'),
    want: UID,
  },
  {
    name: 'cgroup v1, systemd driver, only some hierarchies name the pod',
    cgroup: ['13:misc:/', `4:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/${CTR}`, '0::/'].join('\n'),
    want: UID,
  },
  { name: 'docker-in-docker prefix, cgroupfs', cgroup: `0::/docker/8a9b/kubepods/burstable/pod${UID}/c0ffee\n`, want: UID },
  {
    name: 'static pod UID (32 hex digits)',
    cgroup: `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${STATIC}.slice/${CTR}\n`,
    want: STATIC,
  },
  { name: 'host process (cgroup v2)', cgroup: '0::/system.slice/kubelet.service\n', want: null },
  { name: 'host process (cgroup v1, this VM)', cgroup: '9:name=systemd:/\n4:memory:/process_api/5e957b9290377596a577aa97bcf9bcf4\n0::/\n', want: null },
  { name: 'the QoS slice without a pod', cgroup: '0::/kubepods.slice/kubepods-burstable.slice\n', want: null },
  { name: 'not a UID after "pod"', cgroup: '0::/kubepods/burstable/podcast/abc\n', want: null },
  { name: 'a UID not under kubepods', cgroup: `0::/user.slice/pod${UID}/x\n`, want: null },
  { name: 'empty file', cgroup: '', want: null },
];

for (const c of cases) {
  test(`pod UID from cgroup: ${c.name}`, () => {
    assert.equal(podUidFromCgroup(c.cgroup), c.want);
  });
}

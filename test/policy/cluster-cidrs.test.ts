// Which ranges a node's NOTRACK rules are judged against: the flags win, else
// what the cluster states; a range not known on a Kubernetes node is null (the
// guardrail refuses what depends on it), off Kubernetes it is none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guardrailCidrs, nodeCidrs, type DiscoveredCidrs } from '../../src/policy/cluster-cidrs.js';

const noFlags = { serviceCidrs: [], podCidrs: [] };
const discovered: DiscoveredCidrs = {
  service: { cidrs: ['10.0.0.0/24'], from: 'ServiceCIDR kubernetes' },
  pod: { cidrs: null, why: 'this Node has no spec.podCIDRs' },
};

test('nodeCidrs and guardrailCidrs: flags win per kind; unknown is null only on a Kubernetes node', () => {
  const cases = [
    {
      name: 'in a cluster, no flags: what the cluster states, the unknown Pod ranges null',
      got: nodeCidrs(noFlags, discovered, false),
      guardrail: { serviceCidrs: ['10.0.0.0/24'], podCidrs: null },
    },
    {
      name: 'in a cluster, --pod-cidr given: it fills what the Node does not say',
      got: nodeCidrs({ serviceCidrs: [], podCidrs: ['10.244.0.0/16'] }, discovered, false),
      guardrail: { serviceCidrs: ['10.0.0.0/24'], podCidrs: ['10.244.0.0/16'] },
    },
    {
      name: 'in a cluster, --service-cidr given: it wins over the ServiceCIDR objects',
      got: nodeCidrs({ serviceCidrs: ['10.96.0.0/12'], podCidrs: [] }, discovered, false),
      guardrail: { serviceCidrs: ['10.96.0.0/12'], podCidrs: null },
    },
    { name: 'standalone, not a Kubernetes node: none needed', got: nodeCidrs(noFlags, null, false), guardrail: { serviceCidrs: [], podCidrs: [] } },
    {
      name: 'standalone on a Kubernetes node (kubelet runs), no flags: both unknown',
      got: nodeCidrs(noFlags, null, true),
      guardrail: { serviceCidrs: null, podCidrs: null },
    },
  ];
  for (const c of cases) assert.deepEqual(guardrailCidrs(c.got), c.guardrail, c.name);
  assert.deepEqual(cases[1]!.got.pod, { cidrs: ['10.244.0.0/16'], from: '--pod-cidr' });
  assert.deepEqual(cases[3]!.got, {
    kubernetesNode: false,
    service: { cidrs: null, why: 'no --service-cidr given' },
    pod: { cidrs: null, why: 'no --pod-cidr given' },
  });
});

// Where the cluster states its ranges, as kube-apiserver 1.32 serves them with the
// ServiceCIDR API turned on (envtest.ts: --runtime-config=networking.k8s.io/v1beta1=true
// and the MultiCIDRServiceAllocator gate): the ServiceCIDR resource (discovery, the
// default "kubernetes" object, validation, immutability, delete) and a Node's
// spec.podCIDR/podCIDRs (conversion, validation, set once). The expected bodies were
// recorded from that kube-apiserver; the test runs on both servers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi, type TestApi } from '../support/kube/harness.js';
import { until } from '../support/until.js';
import { SERVICE_CLUSTER_IP_RANGE } from '../support/kube/envtest.js';

const SERVICE_CIDRS = '/apis/networking.k8s.io/v1beta1/servicecidrs';
const MERGE = 'application/merge-patch+json';
const serviceCidr = (name: string, spec?: object) => ({
  apiVersion: 'networking.k8s.io/v1beta1',
  kind: 'ServiceCIDR',
  metadata: { name },
  ...(spec ? { spec } : {}),
});
const node = (name: string, spec: object) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec });

/** The parts of a 422 that tell one refusal from another. */
function invalidOf(body: any): unknown {
  return { message: body.message, reason: body.reason, causes: body.details?.causes };
}

describe('cluster ranges: ServiceCIDRs and Node pod ranges', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
  });
  after(() => api?.stop());

  it('serves networking.k8s.io v1 (preferred) and v1beta1 with servicecidrs; v1 servicecidrs is not served', async () => {
    const group = await api.request('GET', '/apis/networking.k8s.io');
    assert.deepEqual(
      group.body.versions.map((v: any) => v.version),
      ['v1', 'v1beta1'],
    );
    assert.equal(group.body.preferredVersion.version, 'v1');
    const beta = await api.request('GET', '/apis/networking.k8s.io/v1beta1');
    const byName = Object.fromEntries(beta.body.resources.map((r: any) => [r.name, r]));
    assert.deepEqual(
      { ...byName.servicecidrs, storageVersionHash: undefined },
      {
        name: 'servicecidrs',
        singularName: 'servicecidr',
        namespaced: false,
        kind: 'ServiceCIDR',
        verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
        storageVersionHash: undefined,
      },
    );
    assert.deepEqual(byName['servicecidrs/status'].verbs, ['get', 'patch', 'update']);
    const v1 = await api.request('GET', '/apis/networking.k8s.io/v1/servicecidrs');
    assert.equal(v1.status, 404);
    assert.deepEqual(
      { ...v1.body },
      {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server could not find the requested resource',
        reason: 'NotFound',
        details: {},
        code: 404,
      },
    );
  });

  it('has the default ServiceCIDR "kubernetes": the service range, Ready', async () => {
    // kube-apiserver's controller creates it a moment after the server is ready.
    const got = await until('the default ServiceCIDR', async () => {
      const r = await api.request('GET', `${SERVICE_CIDRS}/kubernetes`);
      return r.status === 200 && r.body.status?.conditions ? r.body : undefined;
    });
    assert.deepEqual(got.spec, { cidrs: [SERVICE_CLUSTER_IP_RANGE] });
    const { lastTransitionTime, ...ready } = got.status.conditions[0];
    assert.deepEqual(ready, { type: 'Ready', status: 'True', reason: '', message: 'Kubernetes default Service CIDR is ready' });
    assert.match(lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const list = await api.request('GET', SERVICE_CIDRS);
    assert.equal(list.body.kind, 'ServiceCIDRList');
    assert.deepEqual(
      list.body.items.map((i: any) => i.metadata.name),
      ['kubernetes'],
    );
  });

  it('creates a ServiceCIDR with an empty status, refuses a change of its ranges, deletes with a Status', async () => {
    const created = await api.request('POST', SERVICE_CIDRS, {
      body: { ...serviceCidr('extra', { cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] }), status: { conditions: [] } },
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual([created.body.spec, created.body.status], [{ cidrs: ['10.96.0.0/16', 'fd00:10:96::/112'] }, {}]);
    const changed = await api.request('PATCH', `${SERVICE_CIDRS}/extra`, { body: { spec: { cidrs: ['10.97.0.0/16'] } }, contentType: MERGE });
    assert.equal(changed.status, 422);
    assert.deepEqual(invalidOf(changed.body), {
      message: 'ServiceCIDR.networking.k8s.io "extra" is invalid: spec.cidrs: Invalid value: []string{"10.97.0.0/16"}: field is immutable',
      reason: 'Invalid',
      causes: [{ reason: 'FieldValueInvalid', message: 'Invalid value: []string{"10.97.0.0/16"}: field is immutable', field: 'spec.cidrs' }],
    });
    const deleted = await api.request('DELETE', `${SERVICE_CIDRS}/extra`);
    assert.equal(deleted.status, 200);
    assert.deepEqual(
      { ...deleted.body, details: { ...deleted.body.details, uid: undefined } },
      {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name: 'extra', group: 'networking.k8s.io', kind: 'servicecidrs', uid: undefined },
      },
    );
  });

  const refusals: Array<{ name: string; spec?: object; field: string; detail: string }> = [
    { name: 'no spec', field: 'spec.cidrs', detail: 'Required value: at least one CIDR required' },
    { name: 'no ranges', spec: { cidrs: [] }, field: 'spec.cidrs', detail: 'Required value: at least one CIDR required' },
    {
      name: 'three ranges',
      spec: { cidrs: ['10.1.0.0/16', 'fd00::/64', '10.2.0.0/16'] },
      field: 'spec.cidrs',
      detail: 'Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"10.1.0.0/16", "fd00::/64", "10.2.0.0/16"}}: may only hold up to 2 values',
    },
    { name: 'not a CIDR', spec: { cidrs: ['banana'] }, field: 'spec.cidrs[0]', detail: 'Invalid value: "banana": netip.ParsePrefix("banana"): no \'/\'' },
    {
      name: 'host bits set',
      spec: { cidrs: ['10.96.0.1/16'] },
      field: 'spec.cidrs[0]',
      detail: 'Invalid value: "10.96.0.1/16": wrong CIDR format, IP doesn\'t match network IP address',
    },
    {
      name: 'two of one family',
      spec: { cidrs: ['fd00::/64', 'fd01::/64'] },
      field: 'spec.cidrs',
      detail:
        'Invalid value: networking.ServiceCIDRSpec{CIDRs:[]string{"fd00::/64", "fd01::/64"}}: may specify no more than one IP for each IP family, i.e 192.168.0.0/24 and 2001:db8::/64',
    },
  ];
  for (const c of refusals) {
    it(`refuses a ServiceCIDR: ${c.name}`, async () => {
      const r = await api.request('POST', SERVICE_CIDRS, { body: serviceCidr('bad', c.spec) });
      assert.equal(r.status, 422, r.text);
      const [reason, message] = [c.detail.startsWith('Required') ? 'FieldValueRequired' : 'FieldValueInvalid', c.detail];
      assert.deepEqual(invalidOf(r.body), {
        message: `ServiceCIDR.networking.k8s.io "bad" is invalid: ${c.field}: ${c.detail}`,
        reason: 'Invalid',
        causes: [{ reason, message, field: c.field }],
      });
    });
  }

  it('a Node: podCIDR and podCIDRs kept alike (podCIDR wins), host bits kept, set once', async () => {
    const create = async (name: string, spec: object) => (await api.request('POST', '/api/v1/nodes', { body: node(name, spec) })).body.spec;
    const { taints: _, ...onlyPodCidr } = await create('only-podcidr', { podCIDR: '10.244.9.0/24' });
    assert.deepEqual(onlyPodCidr, { podCIDR: '10.244.9.0/24', podCIDRs: ['10.244.9.0/24'] });
    const { taints: _t, ...mismatch } = await create('mismatch', { podCIDR: '10.244.9.0/24', podCIDRs: ['10.244.8.0/24'] });
    assert.deepEqual(mismatch, { podCIDR: '10.244.9.0/24', podCIDRs: ['10.244.9.0/24'] });
    const { taints: _h, ...hostBits } = await create('host-bits', { podCIDRs: ['10.244.1.5/24', 'fd00:10:244:1::/64'] });
    assert.deepEqual(hostBits, { podCIDR: '10.244.1.5/24', podCIDRs: ['10.244.1.5/24', 'fd00:10:244:1::/64'] });

    await create('later', {});
    const set = await api.request('PATCH', '/api/v1/nodes/later', { body: { spec: { podCIDRs: ['10.244.7.0/24'] } }, contentType: MERGE });
    assert.equal(set.status, 200, 'from "" to valid');
    assert.deepEqual([set.body.spec.podCIDR, set.body.spec.podCIDRs], ['10.244.7.0/24', ['10.244.7.0/24']]);
    const again = await api.request('PATCH', '/api/v1/nodes/later', { body: { spec: { podCIDRs: ['10.244.7.0/24', 'fd00:1::/64'] } }, contentType: MERGE });
    assert.equal(again.status, 422);
    assert.deepEqual(invalidOf(again.body), {
      message: 'Node "later" is invalid: spec.podCIDRs: Forbidden: node updates may not change podCIDR except from "" to valid',
      reason: 'Invalid',
      causes: [{ reason: 'FieldValueForbidden', message: 'Forbidden: node updates may not change podCIDR except from "" to valid', field: 'spec.podCIDRs' }],
    });
    const labelled = await api.request('PATCH', '/api/v1/nodes/later', { body: { metadata: { labels: { pool: 'web' } } }, contentType: MERGE });
    assert.equal(labelled.status, 200, 'other changes are free');
  });

  const nodeRefusals = [
    {
      name: 'not a CIDR',
      spec: { podCIDRs: ['banana'] },
      field: 'spec.podCIDRs[0]',
      detail: 'Invalid value: "banana": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    },
    {
      name: 'podCIDR not a CIDR (checked as podCIDRs[0])',
      spec: { podCIDR: 'banana' },
      field: 'spec.podCIDRs[0]',
      detail: 'Invalid value: "banana": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
    },
    {
      name: 'two of one family',
      spec: { podCIDRs: ['10.244.1.0/24', '10.244.2.0/24'] },
      field: 'spec.podCIDRs',
      detail: 'Invalid value: []string{"10.244.1.0/24", "10.244.2.0/24"}: may specify no more than one CIDR for each IP family',
    },
  ];
  for (const c of nodeRefusals) {
    it(`refuses a Node's pod ranges: ${c.name}`, async () => {
      const r = await api.request('POST', '/api/v1/nodes', { body: node('bad-node', c.spec) });
      assert.equal(r.status, 422, r.text);
      assert.deepEqual(invalidOf(r.body), {
        message: `Node "bad-node" is invalid: ${c.field}: ${c.detail}`,
        reason: 'Invalid',
        causes: [{ reason: 'FieldValueInvalid', message: c.detail, field: c.field }],
      });
    });
  }
});

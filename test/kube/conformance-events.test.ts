// Events through core/v1 and events.k8s.io/v1, compared with captures 60 (create), 61
// (aggregation by strategic merge patch), 62 (events.k8s.io create and the generateName
// that ends in a dot) and 63 (fieldSelector on involvedObject).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startApi, type TestApi } from '../support/kube/harness.js';

const CORE_EVENTS = '/api/v1/namespaces/default/events';
const V1_EVENTS = '/apis/events.k8s.io/v1/namespaces/default/events';

const coreEvent = (name: string, involved: string, message: string) => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, namespace: 'default' },
  involvedObject: { apiVersion: 'v1', kind: 'Node', name: involved, uid: involved },
  reason: 'ConntrackTablePressure',
  message,
  type: 'Warning',
  source: { component: 'conntrack-operator', host: involved },
  firstTimestamp: '2026-11-22T04:00:00Z',
  lastTimestamp: '2026-11-22T04:00:00Z',
  count: 1,
  reportingComponent: 'conntrack-operator',
  reportingInstance: involved,
});

const v1Event = (generateName: string) => ({
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: { generateName, namespace: 'default' },
  eventTime: '2026-11-22T04:00:00.000000Z',
  reportingController: 'conntrack.io/agent',
  reportingInstance: 'node-a',
  action: 'Reconcile',
  reason: 'ConntrackDriftDetected',
  note: 'nf_conntrack_tcp_timeout_established is 432000, policy wants 600',
  type: 'Warning',
  regarding: { apiVersion: 'v1', kind: 'Node', name: 'node-a' },
});

describe('events', () => {
  let api: TestApi;
  before(async () => {
    api = await startApi();
  });
  after(() => api?.stop());

  it('creates a core/v1 Event, serialising eventTime as null (capture 60)', async () => {
    const res = await api.request('POST', CORE_EVENTS, { body: coreEvent('node-a.conntrack-demo', 'node-a', 'conntrack table at 91% (238000/262144)') });
    assert.equal(res.status, 201);
    assert.equal(res.body.kind, 'Event');
    assert.equal(res.body.eventTime, null);
    assert.equal(res.body.count, 1);
    assert.deepEqual(res.body.involvedObject, { kind: 'Node', name: 'node-a', uid: 'node-a', apiVersion: 'v1' });
    assert.equal(res.body.metadata.generation, undefined);
  });

  it('aggregates by patching count, lastTimestamp and message with a strategic merge patch (capture 61)', async () => {
    const res = await api.request('PATCH', `${CORE_EVENTS}/node-a.conntrack-demo`, {
      body: { count: 2, lastTimestamp: '2026-11-22T04:01:00Z', message: 'conntrack table at 93% (243800/262144)' },
      contentType: 'application/strategic-merge-patch+json',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.count, 2);
    assert.equal(res.body.firstTimestamp, '2026-11-22T04:00:00Z');
    assert.equal(res.body.lastTimestamp, '2026-11-22T04:01:00Z');
    assert.equal(res.body.message, 'conntrack table at 93% (243800/262144)');
  });

  it('lists Events by involvedObject fields across namespaces (capture 63)', async () => {
    await api.request('POST', CORE_EVENTS, { body: coreEvent('node-b.other', 'node-b', 'elsewhere') });
    const res = await api.request('GET', `/api/v1/events?fieldSelector=${encodeURIComponent('involvedObject.name=node-a')}`);
    assert.equal(res.status, 200);
    assert.equal(res.body.kind, 'EventList');
    assert.deepEqual(
      res.body.items.map((e: any) => e.metadata.name),
      ['node-a.conntrack-demo'],
    );
    const byKind = await api.request('GET', `${CORE_EVENTS}?fieldSelector=${encodeURIComponent('involvedObject.kind=Node,reason=ConntrackTablePressure')}`);
    assert.equal(byKind.body.items.length, 2);
  });

  it('creates an events.k8s.io/v1 Event from a generateName (capture 62)', async () => {
    const res = await api.request('POST', V1_EVENTS, { body: v1Event('node-a-') });
    assert.equal(res.status, 201);
    assert.equal(res.body.apiVersion, 'events.k8s.io/v1');
    assert.match(res.body.metadata.name, /^node-a-[a-z0-9]{5}$/);
    assert.equal(res.body.metadata.generateName, 'node-a-');
    assert.deepEqual(res.body.deprecatedSource, {});
    assert.equal(res.body.deprecatedFirstTimestamp, null);
    assert.deepEqual(res.body.regarding, { kind: 'Node', name: 'node-a', apiVersion: 'v1' });
  });

  it('refuses a generateName ending in a dot with the RFC 1123 message, naming the Event without a group (capture 62)', async () => {
    const res = await api.request('POST', V1_EVENTS, { body: v1Event('node-a.') });
    assert.equal(res.status, 422);
    const detail =
      "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    assert.match(res.body.details.name, /^node-a\.[a-z0-9]{5}$/);
    assert.deepEqual(res.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `Event "${res.body.details.name}" is invalid: metadata.generateName: Invalid value: "node-a.": ${detail}`,
      reason: 'Invalid',
      details: {
        name: res.body.details.name,
        kind: 'Event',
        causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "node-a.": ${detail}`, field: 'metadata.generateName' }],
      },
      code: 422,
    });
  });

  it('requires eventTime on events.k8s.io/v1, and only with it the reporting fields and action', async () => {
    const without = (fields: string[]) => {
      const body: Record<string, unknown> = v1Event('incomplete-');
      for (const f of fields) delete body[f];
      return api.request('POST', V1_EVENTS, { body });
    };
    const causes = (res: { body: any }) => res.body.details.causes.map((c: any) => [c.field, c.message]);
    const noTime = await without(['eventTime', 'reportingController', 'reportingInstance', 'action']);
    assert.equal(noTime.status, 422);
    assert.deepEqual(causes(noTime), [['eventTime', 'Required value']]);
    const withTime = await without(['reportingController', 'reportingInstance', 'action']);
    assert.equal(withTime.status, 422);
    const part =
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
    assert.deepEqual(causes(withTime), [
      ['reportingController', 'Required value'],
      ['reportingController', 'Invalid value: "": name part must be non-empty'],
      ['reportingController', `Invalid value: "": name part ${part}`],
      ['reportingInstance', 'Required value'],
      ['action', 'Required value'],
    ]);
  });
});

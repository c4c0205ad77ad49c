import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventRecorder, type EventSink, type RecordedEvent } from '../../src/kube/event-recorder.js';

class MemorySink implements EventSink {
  readonly events = new Map<string, Omit<RecordedEvent, 'ref'>>();
  readonly calls: string[] = [];
  async create(e: Omit<RecordedEvent, 'ref'>): Promise<string> {
    const ref = `ev-${this.events.size + 1}`;
    this.events.set(ref, e);
    this.calls.push(`create ${ref}`);
    return ref;
  }
  async update(e: RecordedEvent): Promise<void> {
    this.events.set(e.ref, e);
    this.calls.push(`update ${e.ref} count=${e.count}`);
  }
}

const node = { kind: 'Node', name: 'node-1', uid: 'u1' };
const opts = { burst: 3, refillMs: 60_000, aggregateAfter: 3, windowMs: 600_000 };

function setup() {
  let t = Date.parse('2026-01-01T00:00:00Z');
  const sink = new MemorySink();
  const rec = new EventRecorder(sink, () => t, opts);
  return { sink, rec, advance: (ms: number) => (t += ms) };
}

test('the same event again updates count and lastTimestamp', async () => {
  const { sink, rec, advance } = setup();
  assert.equal(await rec.record(node, 'Warning', 'ConntrackTableFull', 'full'), 'created');
  advance(1000);
  assert.equal(await rec.record(node, 'Warning', 'ConntrackTableFull', 'full'), 'updated');
  assert.deepEqual(sink.calls, ['create ev-1', 'update ev-1 count=2']);
  const e = sink.events.get('ev-1')!;
  assert.equal(e.count, 2);
  assert.equal(e.lastTimestamp.getTime() - e.firstTimestamp.getTime(), 1000);
});

test('different objects are separate events', async () => {
  const { sink, rec } = setup();
  await rec.record(node, 'Warning', 'ConntrackTableFull', 'full');
  await rec.record({ ...node, name: 'node-2', uid: 'u2' }, 'Warning', 'ConntrackTableFull', 'full');
  assert.deepEqual(sink.calls, ['create ev-1', 'create ev-2']);
});

test('similar events with different messages aggregate after the threshold', async () => {
  const { sink, rec, advance } = setup();
  for (let i = 0; i < 3; i++) {
    await rec.record(node, 'Warning', 'ConntrackDriftDetected', `key-${i} drifted`);
    advance(61_000); // keep the rate limiter out of it
  }
  await rec.record(node, 'Warning', 'ConntrackDriftDetected', 'key-9 drifted');
  assert.deepEqual(sink.calls, ['create ev-1', 'create ev-2', 'create ev-3', 'update ev-3 count=2']);
  assert.equal(sink.events.get('ev-3')!.message, '(combined from similar events): key-9 drifted');
});

test('rate limit: burst, then one per refill interval; suppressed ones are counted', async () => {
  const { sink, rec, advance } = setup();
  const results: string[] = [];
  for (let i = 0; i < 5; i++) results.push(await rec.record(node, 'Warning', 'ConntrackTablePressure', 'usage 91%'));
  assert.deepEqual(results, ['created', 'updated', 'updated', 'suppressed', 'suppressed']);
  assert.equal(rec.suppressed.get('ConntrackTablePressure'), 2);
  advance(60_000);
  assert.equal(await rec.record(node, 'Warning', 'ConntrackTablePressure', 'usage 91%'), 'updated');
  assert.equal(await rec.record(node, 'Warning', 'ConntrackTablePressure', 'usage 91%'), 'suppressed');
  assert.equal(sink.calls.length, 4);
});

test('after the window an old event is not reused', async () => {
  const { sink, rec, advance } = setup();
  await rec.record(node, 'Normal', 'ConntrackPolicyApplied', 'applied web-nodes');
  advance(opts.windowMs + 1);
  await rec.record(node, 'Normal', 'ConntrackPolicyApplied', 'applied web-nodes');
  assert.deepEqual(sink.calls, ['create ev-1', 'create ev-2']);
});

test('an Event that vanished (404 on update) is recorded anew', async () => {
  const { sink, rec, advance } = setup();
  await rec.record(node, 'Warning', 'ConntrackTableFull', 'full');
  sink.update = async () => {
    throw Object.assign(new Error('events "ev-1" not found'), { code: 404 });
  };
  advance(1000);
  assert.equal(await rec.record(node, 'Warning', 'ConntrackTableFull', 'full'), 'created');
  assert.deepEqual(sink.calls, ['create ev-1', 'create ev-2']);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseKmsgRecord, parseTableFull } from '../../src/kernel/kmsg.js';

const cases: Array<{ name: string; raw: string; want: { netnsInode: number | null } | null }> = [
  // Seen on this project's 6.18 kernel (DOMAIN.md).
  {
    name: 'current kernel names the netns',
    raw: '4,1234,5678901,-;nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet\n',
    want: { netnsInode: 4026532177 },
  },
  { name: 'old kernel', raw: '4,77,123,-;nf_conntrack: table full, dropping packet\n', want: { netnsInode: null } },
  { name: 'other lines', raw: '6,78,124,-;eth0: link up\n', want: null },
  { name: 'continuation lines are not messages', raw: '6,79,125,-;first line\n SUBSYSTEM=net\n', want: null },
];
for (const tc of cases) {
  test(`kmsg: ${tc.name}`, () => {
    const r = parseKmsgRecord(tc.raw);
    assert.ok(r);
    const s = parseTableFull(r);
    assert.deepEqual(s && { netnsInode: s.netnsInode }, tc.want);
  });
}

test('kmsg record fields', () => {
  assert.deepEqual(parseKmsgRecord('4,1234,5678901,-;hello\n'), { seq: 1234, timestampUs: 5678901, message: 'hello' });
  assert.equal(parseKmsgRecord('garbage'), null);
});

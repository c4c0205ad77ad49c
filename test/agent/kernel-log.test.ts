import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableFullLog } from '../../src/agent/kernel-log.js';

const OURS = 4026531833;

const cases: Array<{ name: string; line: number | null; ours: number | null; flag: boolean }> = [
  { name: "our namespace: the node's TableFull, and a pass now", line: OURS, ours: OURS, flag: true },
  { name: "a pod's namespace: not the node's table, but a pass now so the census reports it", line: 4026532177, ours: OURS, flag: false },
  { name: 'an old kernel that names no namespace: counts as ours', line: null, ours: OURS, flag: true },
  { name: 'our namespace unknown: every line counts', line: 4026532177, ours: null, flag: true },
];
for (const c of cases) {
  test(`kernel log: ${c.name}`, () => {
    let passes = 0;
    const log = new TableFullLog(
      () => c.ours,
      () => passes++,
    );
    log.onSignal({ netnsInode: c.line, timestampUs: 1 });
    assert.equal(passes, 1);
    assert.equal(log.take(), c.flag);
    assert.equal(log.take(), false, 'taken once');
  });
}

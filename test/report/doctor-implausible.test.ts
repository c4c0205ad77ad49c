// doctor on the with-table fixture tree with a table figure no kernel prints
// (a negative count, a negative or out-of-int-range max): named under NOT READ
// with the file, never printed as a usage percentage. max 0 is the kernel's
// "no limit": shown, with no percentage and no entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose } from '../../src/cli/doctor.js';
import { renderDoctorText } from '../../src/report/doctor-text.js';
import { fakeHost } from '../support/fake-host.js';
import { loadFixtureTree } from '../support/fixture-tree.js';

const cases: { name: string; key: string; value: string; notRead: string | null; entries: string }[] = [
  { name: 'negative count', key: 'nf_conntrack_count', value: '-5', notRead: 'implausible value -5', entries: 'entries        ? of 262,144 max' },
  { name: 'negative max', key: 'nf_conntrack_max', value: '-1', notRead: 'implausible value -1', entries: 'entries        23 of ? max' },
  { name: 'max above INT_MAX', key: 'nf_conntrack_max', value: '4294967296', notRead: 'implausible value 4294967296', entries: 'entries        23 of ? max' },
  { name: 'max 0 (no limit)', key: 'nf_conntrack_max', value: '0', notRead: null, entries: 'entries        23 of 0 max' },
  { name: 'plausible figures', key: 'nf_conntrack_count', value: '23', notRead: null, entries: 'entries        23 of 262,144 max (0% used)' },
];

for (const c of cases) {
  test(`doctor, ${c.name}: ${c.notRead ?? 'no NOT READ entry'}`, async () => {
    const tree = loadFixtureTree('with-table');
    const path = tree.paths.sysctl(c.key);
    tree.kernel.set(path, `${c.value}\n`);
    const report = await diagnose(fakeHost(tree.kernel, tree.paths, { isRoot: true }), {
      readTable: false,
      topN: 10,
      sampleMs: 0,
      sleep: async () => {},
    });
    const text = renderDoctorText(report);
    const entries = text.split('\n').find((l) => l.trimStart().startsWith('entries'));
    assert.equal(entries?.trim(), c.entries);
    assert.doesNotMatch(text, /-\d+(\.\d+)?% used/);
    const flagged = report.unreadable.filter((u) => u.code.startsWith('implausible'));
    assert.deepEqual(
      flagged.map((u) => [u.path, u.code]),
      c.notRead ? [[path, c.notRead]] : [],
    );
    if (c.notRead) assert.match(text, new RegExp(`sysctl ${c.key}: ${path} \\(${c.notRead}\\)`));
  });
}

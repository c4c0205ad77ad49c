// A table file with one absurdly long line (30 MB, no newline for a long
// time): it is dropped unread and counted as malformed, the entries around it
// still come out, and the read stays linear (each 64 KiB chunk is looked at
// once, never glued to a growing line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { MAX_LINE_LENGTH, parseConntrackLine } from '../../src/kernel/entry-parser.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { openTableStream, type TableStream } from '../../src/kernel/table-stream.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';

const fileText = fixtureText('with-table', 'proc/self/net/nf_conntrack');
const entries = fileText.split('\n').filter((l) => l !== '');

function streamOf(text: string, chunk: number): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < text.length; i += chunk) yield Buffer.from(text.slice(i, i + chunk), 'latin1');
      })(),
    );
}

const cases = [
  { name: 'a 30 MB line between entries', long: 30 * 1024 * 1024 },
  { name: 'a line just past the cap', long: MAX_LINE_LENGTH + 1 },
];
for (const c of cases) {
  test(`${c.name}: dropped, counted as malformed, entries around it read`, async () => {
    const { kernel, paths } = loadFixtureTree('with-table');
    const text = `${entries[0]}\n${'x'.repeat(c.long)}\n${entries.slice(1).join('\n')}\n`;
    const files: KernelFiles = Object.assign(Object.create(kernel) as KernelFiles, { stream: streamOf(text, 65536) });
    const stream = (await openTableStream(fakeHost(files, paths))) as TableStream;
    const started = performance.now();
    const out = [];
    for await (const batch of stream.batches) out.push(...batch);
    const ms = performance.now() - started;
    assert.deepEqual(
      out,
      entries.map((l) => parseConntrackLine(l)),
    );
    assert.deepEqual([stream.parser.parsed, stream.parser.malformed], [entries.length, 1]);
    assert.ok(ms < 5000, `read in ${Math.round(ms)} ms`);
  });
}

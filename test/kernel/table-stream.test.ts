import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { openTableStream, type TableStream } from '../../src/kernel/table-stream.js';
import { parseConntrackLine, type ConntrackEntry } from '../../src/kernel/entry-parser.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { fakeHost } from '../support/fake-host.js';
import { fixtureText, loadFixtureTree } from '../support/fixture-tree.js';
import { FakeRunner, type Answers } from '../support/fake-runner.js';

const LIST = 'conntrack -L -o extended';
const extended = fixtureText('with-table', 'conntrack-L-extended.txt');
const fileText = fixtureText('with-table', 'proc/self/net/nf_conntrack');
const deniedStderr = fixtureText('no-stat-file', 'conntrack-L-without-cap-net-admin.stderr');

async function drain(stream: TableStream): Promise<ConntrackEntry[]> {
  const out: ConntrackEntry[] = [];
  for await (const batch of stream.batches) out.push(...batch);
  return out;
}

const linesOf = (text: string) => text.split('\n').filter((l) => l !== '');

test('with-table: the file is present and readable, no process is spawned', async () => {
  const { kernel, paths } = loadFixtureTree('with-table');
  const runner = new FakeRunner({});
  const stream = await openTableStream(fakeHost(kernel, paths, { runner }));
  assert.equal(stream.source, 'file');
  const s = stream as TableStream;
  assert.equal(s.origin, paths.tableFile());
  assert.deepEqual(
    await drain(s),
    linesOf(fileText).map((l) => parseConntrackLine(l)),
  );
  assert.deepEqual([s.parser.parsed, s.parser.malformed], [23, 0]);
  assert.deepEqual(runner.calls, []);
});

test('host-6.18: no table file, conntrack -L -o extended is read instead', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18', { live: true });
  const runner = new FakeRunner({ [LIST]: { code: 0, stdout: extended, stderr: 'conntrack v1.4.7 (conntrack-tools): 23 flow entries have been shown.\n' } });
  const stream = (await openTableStream(fakeHost(kernel, paths, { runner }))) as TableStream;
  assert.equal(stream.source, 'conntrack -L');
  assert.equal((await drain(stream)).length, 23);
  assert.deepEqual(
    stream.unreadable.map((u) => u.code),
    ['ENOENT'],
  );
});

test('an empty table over conntrack -L is a table with no entries, not an error', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18', { live: true });
  const runner = new FakeRunner({ [LIST]: { code: 0, stdout: '', stderr: 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n' } });
  const stream = (await openTableStream(fakeHost(kernel, paths, { runner }))) as TableStream;
  assert.equal(stream.source, 'conntrack -L');
  assert.deepEqual(await drain(stream), []);
});

test('neither source readable: named, with whether root helps, no throw', async (t) => {
  const cases: Array<{ name: string; isRoot: boolean; runner: Answers; want: Array<[string, boolean]> }> = [
    {
      name: 'not root: file EACCES, conntrack refused',
      isRoot: false,
      runner: { [LIST]: { code: 1, stdout: '', stderr: deniedStderr } },
      want: [
        ['EACCES', true],
        ['EPERM', true],
      ],
    },
    {
      name: 'root, but no conntrack binary',
      isRoot: true,
      runner: {},
      want: [
        ['EACCES', false],
        ['ENOENT', false],
      ],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { kernel, paths } = loadFixtureTree('with-table', { live: true });
      kernel.failRead(paths.tableFile(), 'EACCES');
      const got = await openTableStream(fakeHost(kernel, paths, { runner: new FakeRunner(c.runner), isRoot: c.isRoot }));
      assert.equal(got.source, null);
      assert.deepEqual(
        got.unreadable.map((u) => [u.code, u.needsRoot]),
        c.want,
      );
    });
  }
});

test('conntrack -L failing midway makes the iteration throw', async () => {
  const { kernel, paths } = loadFixtureTree('host-6.18', { live: true });
  const runner = new FakeRunner({ [LIST]: { code: 1, stdout: extended, stderr: 'conntrack: Interrupted system call' } });
  const stream = (await openTableStream(fakeHost(kernel, paths, { runner }))) as TableStream;
  await assert.rejects(drain(stream), /exited 1 midway: conntrack: Interrupted/);
});

test('file chunks split lines anywhere: the same entries come out; odd lines are counted', async () => {
  const { kernel, paths } = loadFixtureTree('with-table');
  const text = `${fileText}not a conntrack line\n`;
  const files: KernelFiles = Object.assign(Object.create(kernel) as KernelFiles, {
    stream: () => Readable.from(Array.from({ length: Math.ceil(text.length / 7) }, (_, i) => Buffer.from(text.slice(i * 7, i * 7 + 7)))),
  });
  const stream = (await openTableStream(fakeHost(files, paths))) as TableStream;
  assert.deepEqual(
    await drain(stream),
    linesOf(fileText).map((l) => parseConntrackLine(l)),
  );
  assert.deepEqual([stream.parser.parsed, stream.parser.malformed], [23, 1]);
});

test('a copied tree without a table file: conntrack -L is never run against the live kernel', async () => {
  const { kernel, paths } = loadFixtureTree('proc-net-layout');
  const runner = new FakeRunner({ [LIST]: { code: 0, stdout: extended, stderr: '' } });
  const got = await openTableStream(fakeHost(kernel, paths, { runner, isRoot: true }));
  assert.equal(got.source, null);
  assert.deepEqual(runner.calls, []);
  assert.deepEqual(
    got.unreadable.map((u) => `${u.path} ${u.code}`),
    [`${paths.tableFile()} ENOENT`, `${LIST} not run: the --proc-root tree is not this kernel`],
  );
});

test('the table file in the proc/net layout is read', async () => {
  const { kernel, paths } = loadFixtureTree('proc-net-layout');
  kernel.set(paths.proc('net', 'nf_conntrack'), fileText);
  const stream = (await openTableStream(fakeHost(kernel, paths))) as TableStream;
  assert.equal(stream.origin, paths.proc('net', 'nf_conntrack'));
  assert.equal((await drain(stream)).length, 23);
});

// A fresh clone must hold everything its tests, scripts and sources read: no
// absolute path into the machine the code was written on, no reach beside the
// repository. The one allowed reach is .ci/run's optional
// `../shared/envtest/setup.sh`, the documented switch to a real kube-apiserver.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = ['test', 'src', 'scripts', 'bench'];
const CODE = /\.(ts|mts|js|mjs|cjs|sh)$/;
// A path after `target=` is a mount point inside a container, not on this machine.
const OUTSIDE = /(?<!target)(^|[^\w.])(\/work\/|\/home\/|\/root\/|\.\.\/shared\b)/;
const CI_SWITCH = '../shared/envtest/setup.sh';
// This file names the patterns it looks for.
const SELF = relative(ROOT, import.meta.filename);

/** The lines of a text that name a path outside the repository, as "line: text". */
function outsidePaths(text: string, allowed: string[] = []): string[] {
  return text.split('\n').flatMap((line, i) => {
    const rest = allowed.reduce((l, a) => l.replaceAll(a, ''), line);
    return OUTSIDE.test(rest) ? [`${i + 1}: ${line.trim()}`] : [];
  });
}

function codeFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' ? [] : codeFiles(path);
    return CODE.test(name) ? [path] : [];
  });
}

test('outsidePaths finds paths outside the repository, and only those', () => {
  const cases: Array<[string, string[]]> = [
    ["readFileSync('/work/shared/kube-wire/70-forbidden-list.txt')", ["1: readFileSync('/work/shared/kube-wire/70-forbidden-list.txt')"]],
    ['eval "$(../shared/envtest/setup.sh)"', ['1: eval "$(../shared/envtest/setup.sh)"']],
    ["join(ROOT, '..', 'x')\nconst p = '/home/me/kube'", ["2: const p = '/home/me/kube'"]],
    ['cp /root/.cache/x .', ['1: cp /root/.cache/x .']],
    ['RUN --mount=type=secret,id=npmrc,target=/root/.npmrc npm ci', []],
    ['--mount=type=bind,source=/root/.npmrc,target=/x', ['1: --mount=type=bind,source=/root/.npmrc,target=/x']],
    ["join(import.meta.dirname, '..', 'fixtures', 'kube-wire')", []],
    ["'/proc/sys/net/netfilter/nf_conntrack_max', 'run/work/state', 'test/shared/x'", []],
  ];
  for (const [text, want] of cases) assert.deepEqual(outsidePaths(text), want, text);
  assert.deepEqual(outsidePaths(`[ -x ${CI_SWITCH} ]`, [CI_SWITCH]), []);
});

test('no test, source, script or bench file reads outside the repository', () => {
  const files = SCANNED.flatMap((dir) => codeFiles(join(ROOT, dir))).filter((path) => relative(ROOT, path) !== SELF);
  assert.ok(
    files.some((f) => f.endsWith(join('test', 'kube', 'rbac.test.ts'))),
    'the scan reaches the test files',
  );
  const found = files.flatMap((path) => outsidePaths(readFileSync(path, 'utf8')).map((hit) => `${relative(ROOT, path)}:${hit}`));
  assert.deepEqual(found, []);
});

test('.ci/run reaches outside only for the optional envtest switch', () => {
  const ci = readFileSync(join(ROOT, '.ci', 'run'), 'utf8');
  assert.deepEqual(outsidePaths(ci, [CI_SWITCH]), []);
});

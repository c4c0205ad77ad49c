// Each command loads only what it uses: the process is run as a user runs it
// and every module it loads is recorded (test/cli/record-loads.mjs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FIXTURES, MAIN } from './cli-support.js';

const RECORDER = fileURLToPath(new URL('./record-loads.mjs', import.meta.url));
const POLICY = fileURLToPath(new URL('../../examples/policy.yaml', import.meta.url));
const TREE = join(FIXTURES, 'host-6.18');
/** tsx (which runs src/ here) and what it loads itself. */
const TS_LOADER = ['tsx', 'esbuild', 'get-tsconfig', 'resolve-pkg-maps'];

function loadedBy(args: string[]): { code: number | null; stderr: string; packages: Set<string>; own: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-loads-'));
  try {
    const log = join(dir, 'loads');
    const r = spawnSync(process.execPath, ['--import', RECORDER, '--import', 'tsx', MAIN, ...args], {
      env: { ...process.env, RECORD_LOADS_TO: log },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const urls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    const packages = new Set(
      urls
        .flatMap((u) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? [])
        .filter((p) => !TS_LOADER.some((l) => p === l || p.startsWith('@esbuild/'))),
    );
    const own = urls.filter((u) => u.includes('/src/')).map((u) => u.slice(u.indexOf('/src/') + 1));
    return { code: r.status, stderr: r.stderr, packages, own };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const host = ['--proc-root', join(TREE, 'proc'), '--sys-root', join(TREE, 'sys')];
const CASES: Array<{ args: string[]; code: number; allowed: string[]; reaches?: string }> = [
  { args: ['--help'], code: 0, allowed: [] },
  { args: ['agent', '--help'], code: 0, allowed: [] },
  { args: ['kubectl', 'doctor', '--help'], code: 0, allowed: [] },
  { args: ['doctor', '--json', '--top', '3', ...host], code: 0, allowed: [], reaches: 'src/kernel/table-summary.ts' },
  { args: ['doctor', '-o', 'yaml', '--no-table', ...host], code: 0, allowed: ['js-yaml'] },
  {
    args: ['plan', '-f', POLICY, ...host, '--state-dir', join(tmpdir(), 'ctop-loads-none'), '--notrack-backend', 'nftables', '--node-name', 'n'],
    code: -1,
    allowed: ['zod', 'js-yaml'],
    reaches: 'src/reconcile/reconciler.ts',
  },
  // A standalone agent whose policy file is missing stops early, after loading everything it runs with.
  {
    args: [
      'agent',
      '--once',
      '-f',
      '/nonexistent/policy.yaml',
      ...host,
      '--notrack-backend',
      'nftables',
      '--state-dir',
      join(tmpdir(), 'ctop-loads-none'),
      '--metrics-addr',
      '127.0.0.1:0',
    ],
    code: -1,
    allowed: ['zod', 'js-yaml', 'pino', 'prom-client'],
    reaches: 'src/agent/node-agent.ts',
  },
];

for (const tc of CASES) {
  test(`${tc.args.slice(0, 3).join(' ')}: loads no package but ${tc.allowed.join(', ') || 'none'}, never the Kubernetes client`, () => {
    const r = loadedBy(tc.args);
    if (tc.code >= 0) assert.equal(r.code, tc.code, r.stderr);
    assert.ok(r.own.length > 0, 'the recorder saw the program load');
    if (tc.reaches) assert.ok(r.own.includes(tc.reaches), `the command ran as far as ${tc.reaches}: ${r.stderr}`);
    const unexpected = [...r.packages].filter((p) => !tc.allowed.some((a) => p === a || p.startsWith(`${a}/`)) && !isDependencyOf(p, tc.allowed));
    assert.deepEqual(unexpected, [], `loaded: ${[...r.packages].join(', ')}`);
    assert.ok(!r.own.some((f) => f.startsWith('src/kube/')), r.own.join(', '));
  });
}

/** Packages the allowed ones load themselves (pino's and prom-client's own dependencies). */
function isDependencyOf(pkg: string, allowed: string[]): boolean {
  return allowed.some((a) => (TRANSITIVE[a] ?? []).includes(pkg));
}
const TRANSITIVE: Record<string, string[]> = {
  pino: [
    'atomic-sleep',
    'on-exit-leak-free',
    'pino-abstract-transport',
    'pino-std-serializers',
    'process-warning',
    'quick-format-unescaped',
    'real-require',
    'safe-stable-stringify',
    'sonic-boom',
    'thread-stream',
    '@pinojs/redact',
    'split2',
  ],
  'prom-client': ['@opentelemetry/api', 'tdigest', 'bintrees'],
};

test('--help loads config and the duration, CIDR and label-key grammars, nothing of the commands', () => {
  const r = loadedBy(['--help']);
  assert.deepEqual(r.own.sort(), [
    'src/api/v1alpha1/policy-rules.ts',
    'src/cli/input-error.ts',
    'src/cli/main.ts',
    'src/config.ts',
    'src/durations.ts',
    'src/errors.ts',
    'src/policy/cidr.ts',
    'src/policy/intervals.ts',
    'src/policy/select.ts',
  ]);
});

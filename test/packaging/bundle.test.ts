// The image runs dist/bundle (esbuild, one chunk per command), not dist/cli:
// code that finds files relative to its own module (package.json for
// --version and build_info) sees another layout there. The bundle is built
// as the Dockerfile builds it and run from a copy holding only what the image
// ships beside it (package.json, examples/), not node_modules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

test("the bundle the image runs: --version, a command's --help, and a standalone agent pass, without node_modules", { timeout: 120_000 }, async () => {
  const built = spawnSync('npm', ['run', '--silent', 'build:bundle'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const app = await mkdtemp(join(tmpdir(), 'ctop-bundle-'));
  try {
    await cp(join(ROOT, 'dist', 'bundle'), join(app, 'dist', 'bundle'), { recursive: true });
    await cp(join(ROOT, 'package.json'), join(app, 'package.json'));
    await cp(join(ROOT, 'examples'), join(app, 'examples'), { recursive: true });
    const version = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).version as string;
    const run = (args: string[]) =>
      spawnSync(process.execPath, ['--optimize-for-size', join(app, 'dist', 'bundle', 'main.js'), ...args], { cwd: app, encoding: 'utf8', timeout: 60_000 });

    const v = run(['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `conntrack-operator ${version}\n`);
    const help = run(['agent', '--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: conntrack-operator agent/);
    // DryRun on whatever host this is: it reads, writes nothing but its own state and status files.
    const agent = run([
      'agent',
      '--once',
      '--dry-run',
      '-f',
      join(app, 'examples', 'policy.yaml'),
      '--state-dir',
      join(app, 'state'),
      '--status-file',
      join(app, 'status.json'),
      '--metrics-addr',
      '127.0.0.1:0',
    ]);
    assert.equal(agent.status, 0, agent.stderr);
    const status = JSON.parse(await readFile(join(app, 'status.json'), 'utf8')) as { status: { nodeName: string } };
    assert.ok(status.status.nodeName, 'the status file names the node');
  } finally {
    await rm(app, { recursive: true, force: true });
  }
});

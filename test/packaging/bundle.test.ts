// The one build users run: the package's bin (bin/conntrack-operator) starts
// dist/bundle (esbuild, one chunk per command), as the image does. Code that
// finds files relative to its own module (package.json for --version and
// build_info) sees another layout there than under src/. The bundle is built
// as `npm run build` builds it and run through the bin from a copy holding
// only what the package ships (package.json's "files"), not node_modules.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

test("the package's bin runs the bundle: --version, a command's --help, and a standalone agent pass, without node_modules", { timeout: 120_000 }, async () => {
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, built.stderr);
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; files: string[] };
  const app = await mkdtemp(join(tmpdir(), 'ctop-bundle-'));
  try {
    for (const f of [...pkg.files, 'package.json']) await cp(join(ROOT, f), join(app, f), { recursive: true });
    const run = (args: string[]) => spawnSync(join(app, pkg.bin['conntrack-operator']!), args, { cwd: app, encoding: 'utf8', timeout: 60_000 });

    const v = run(['--version']);
    assert.equal(v.status, 0, v.stderr);
    assert.equal(v.stdout, `conntrack-operator ${pkg.version}\n`);
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

// The Dockerfile, checked without a container engine: its structure, that
// every path it copies is in the build context, and that the Debian packages
// it installs provide every tool the code runs through its CommandRunner.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/** Dockerfile instructions, with `\` continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const logical = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return logical
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^([A-Za-z]+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`not an instruction: ${l}`);
      return { keyword: m[1]!.toUpperCase(), args: m[2]!.trim() };
    });
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args}`);
      stages.push({ from: m[1]!, ...(m[2] ? { name: m[2] } : {}), instructions: [] });
    } else if (stages.length) {
      stages.at(-1)!.instructions.push(ins);
    } else {
      assert.equal(ins.keyword, 'ARG', `${ins.keyword} before the first FROM`);
    }
  }
  return stages;
}

const instructions = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const stages = stagesOf(instructions);
const build = stages.find((s) => s.name === 'build')!;
const runtime = stages.at(-1)!;
const RUN_MOUNTS = /^(?:--mount=\S+\s+)+/;
/** Each RUN's command, without its --mount flags. */
const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args.replace(RUN_MOUNTS, ''));

test('two stages from the same Node LTS slim image: npm ci and the build, then the runtime', () => {
  assert.equal(stages.length, 2);
  assert.ok(build, 'a stage named build');
  assert.equal(runtime.from, build.from);
  const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'))?.[1];
  assert.equal(build.from, '${NODE_IMAGE}');
  assert.match(nodeImage ?? '', /^node:(20|22|24)-[a-z]+-slim$/);
  assert.ok(runs(build).includes('npm ci --ignore-scripts'));
  assert.ok(runs(build).includes('npm run build'));
  assert.ok(runs(build).includes('npm run build:bundle'));
  assert.ok(
    runs(runtime).some((r) => r.startsWith('npm ci --omit=dev')),
    'production dependencies only',
  );
  const entrypoint = runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!;
  assert.deepEqual(JSON.parse(entrypoint.args), ['node', '--optimize-for-size', '/app/dist/bundle/main.js']);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
  assert.equal(pkg.bin['conntrack-operator'], 'dist/cli/main.js');
  assert.match(pkg.scripts['build:bundle']!, /esbuild src\/cli\/main\.ts .*--outdir=dist\/bundle/, 'the entrypoint is the package binary, bundled');
  const labels = runtime.instructions
    .filter((i) => i.keyword === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const key of ['title', 'description', 'version', 'licenses']) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
});

test('every COPY source is in the build context (present and not .dockerignore-d) or built by the build stage', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const stage of stages) {
    for (const copy of stage.instructions.filter((i) => i.keyword === 'COPY')) {
      const words = copy.args.split(/\s+/);
      const fromStage = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      const sources = paths.slice(0, -1);
      for (const source of sources) {
        if (fromStage) {
          assert.equal(fromStage, 'build');
          assert.match(source, /^\/src\/dist\/?$/, `${source}: only dist/ comes from the build stage`);
          assert.ok(runs(build).includes('npm run build'));
          assert.ok(runs(build).includes('npm run build:bundle'));
          continue;
        }
        const top = source.replace(/\/$/, '').split('/')[0]!;
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: not in the repository`);
        assert.ok(!ignored.includes(top), `COPY ${source}: excluded by .dockerignore`);
        if (source.endsWith('/')) assert.ok(statSync(join(ROOT, source)).isDirectory() && readdirSync(join(ROOT, source)).length > 0);
      }
    }
  }
});

test('npm installs get the optional "npmrc" build secret; no npm config or CA bundle lands in a layer', () => {
  const npmRuns = stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
  assert.equal(npmRuns.length, 2, 'npm ci in the build and the runtime stage');
  for (const run of npmRuns) {
    assert.deepEqual(RUN_MOUNTS.exec(run.args)?.[0].trim().split(/\s+/), ['--mount=type=secret,id=npmrc,target=/root/.npmrc'], run.args);
  }
  for (const i of instructions.filter((i) => ['COPY', 'ADD', 'ENV', 'ARG'].includes(i.keyword))) {
    assert.doesNotMatch(i.args, /npmrc|NODE_EXTRA_CA_CERTS|\.crt\b|\.pem\b/i, `${i.keyword} ${i.args}`);
  }
});

/** Every .ts file below dir. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const ARG = String.raw`('[^']*'|\`[^\`]*\`|[\w.]+)`;
/** runner.run(CMD, ...), runner.streamChunks(CMD, ...), runChecked(runner, CMD, ...), tryRun(runner, CMD, ...). */
const COMMAND_POSITIONS = [
  new RegExp(String.raw`\.(?:run|streamChunks)\(\s*${ARG}\s*,`, 'g'),
  new RegExp(String.raw`\b(?:runChecked|tryRun)\(\s*[\w.]+\s*,\s*${ARG}\s*,`, 'g'),
];

/**
 * The commands src/ gives to a CommandRunner: literals in command position,
 * and `tools.save`-like properties resolved to the literals assigned to that
 * property in the same file; `${mode}` expands to every IptablesMode member.
 * Bare identifiers are wrappers passing their parameter on (their callers'
 * literals are found where they call).
 */
function commandsInSource(): Set<string> {
  const modeUnion = /export type IptablesMode = ([^;]+);/.exec(readFileSync(join(ROOT, 'src/kernel/notrack/iptables-backend.ts'), 'utf8'))?.[1] ?? '';
  const modes = [...modeUnion.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  assert.ok(modes.length >= 2, 'IptablesMode members');
  const expand = (literal: string) => (literal.includes('${') ? modes.map((mode) => literal.replace(/\$\{[^}]+\}/g, mode)) : [literal]);
  const found = new Set<string>();
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const re of COMMAND_POSITIONS) {
      for (const [, arg] of text.matchAll(re)) {
        if (/^['`]/.test(arg!)) {
          for (const c of expand(arg!.slice(1, -1))) found.add(c);
        } else if (arg!.includes('.')) {
          const prop = arg!.split('.').at(-1)!;
          const values = [...text.matchAll(new RegExp(String.raw`\b${prop}:\s*('[^']*'|\`[^\`]*\`)`, 'g'))].map((m) => m[1]!.slice(1, -1));
          assert.ok(values.length > 0, `${file}: cannot tell which command ${arg} is`);
          for (const v of values) for (const c of expand(v)) found.add(c);
        }
      }
    }
  }
  return found;
}

function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, name);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

function debianPackageOf(path: string): string {
  // dpkg -S /usr/sbin/nft -> "nftables: /usr/sbin/nft"
  return execFileSync('dpkg', ['-S', path], { encoding: 'utf8' }).split(':')[0]!.trim();
}

const dpkgMissing = which('dpkg') === null ? 'dpkg not found: needs a Debian host to map binaries to packages' : undefined;

test('the packages the runtime installs provide every tool the code runs', { skip: dpkgMissing }, (t) => {
  const installLine = runs(runtime).find((r) => r.includes('apt-get install'));
  assert.ok(installLine, 'an apt-get install in the runtime stage');
  assert.match(installLine, /--no-install-recommends/);
  const installed = new Set(
    installLine
      .split('apt-get install')[1]!
      .split('&&')[0]!
      .split(/\s+/)
      .filter((w) => w && !w.startsWith('-')),
  );

  const commands = [...commandsInSource()].sort();
  for (const family of ['iptables-', 'ip6tables-', 'nft', 'conntrack']) {
    assert.ok(
      commands.some((c) => c.startsWith(family)),
      `found no ${family}* command in src/: is the scan broken?`,
    );
  }
  const missing: string[] = [];
  for (const name of commands) {
    const path = which(name);
    const pkg = path ? debianPackageOf(path) : null;
    if (!pkg || !installed.has(pkg)) missing.push(path ? `${name} (${path}, Debian package ${pkg})` : `${name} (not on this host either)`);
  }
  assert.deepEqual(missing, [], `the runtime image lacks: ${missing.join(', ')}`);
  t.diagnostic(`commands: ${commands.join(' ')}; packages: ${[...installed].sort().join(' ')}`);
});

// The Dockerfile, checked without a container engine: its structure, that
// every path it copies is in the build context, that the runtime starts the
// bundle exactly as the package's bin does, and that the Debian packages it
// puts in the runtime provide every tool the code runs through its CommandRunner.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { IMAGE_CLI } from '../../src/cli/kubectl-doctor.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  from: string;
  platform?: string;
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
      const m = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.ok(m, `FROM ${ins.args}`);
      stages.push({ from: m[2]!, ...(m[1] ? { platform: m[1] } : {}), ...(m[3] ? { name: m[3] } : {}), instructions: [] });
    } else if (stages.length) {
      stages.at(-1)!.instructions.push(ins);
    } else {
      assert.equal(ins.keyword, 'ARG', `${ins.keyword} before the first FROM`);
    }
  }
  return stages;
}

const DOCKERFILE = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const instructions = parseDockerfile(DOCKERFILE);
const stages = stagesOf(instructions);
const stage = (name: string) => {
  const found = stages.find((s) => s.name === name);
  assert.ok(found, `a stage named ${name}`);
  return found;
};
const runtime = stages.at(-1)!;
const RUN_MOUNTS = /^(?:--mount=\S+\s+)+/;
/** Each RUN's command, without its --mount flags. */
const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args.replace(RUN_MOUNTS, ''));

/**
 * The node command line bin/conntrack-operator execs for `args`, paths relative
 * to the package root: the bin is run with a stand-in `node` first on PATH that
 * prints its arguments.
 */
function binCommandLine(args: string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-bin-'));
  try {
    writeFileSync(join(dir, 'node'), '#!/bin/sh\nprintf \'%s\\n\' "$@"\n', { mode: 0o755 });
    const out = execFileSync(join(ROOT, 'bin', 'conntrack-operator'), args, {
      env: { ...process.env, PATH: `${dir}${delimiter}${process.env.PATH}` },
      encoding: 'utf8',
    });
    return [
      'node',
      ...out
        .trimEnd()
        .split('\n')
        .map((w) => (w.startsWith('/') ? relative(ROOT, resolve(w)) : w)),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** An image command line with the image's package root (/app) taken off its paths. */
const inPackage = (argv: string[]) => argv.map((w) => w.replace(/^\/app\//, ''));

test('build stages on the build platform from the Node LTS slim image; a runtime from scratch that only copies', () => {
  const nodeImage = /^ARG NODE_IMAGE=(\S+)$/m.exec(DOCKERFILE)?.[1];
  assert.match(nodeImage ?? '', /^node:(20|22|24)-[a-z]+-slim$/);
  for (const name of ['build', 'node', 'rootfs']) {
    assert.equal(stage(name).from, '${NODE_IMAGE}');
    assert.equal(stage(name).platform, '$BUILDPLATFORM', `${name} runs on the build machine's platform, for every target`);
  }
  assert.equal(stage('sbom').from, 'build');
  assert.ok(runs(stage('build')).includes('npm ci --ignore-scripts'));
  assert.ok(runs(stage('build')).includes('npm run build'));
  assert.equal(runtime.from, 'scratch');
  assert.equal(runtime.platform, undefined, 'the runtime is of the target platform');
  assert.deepEqual(
    runtime.instructions.filter((i) => !['ARG', 'LABEL', 'COPY', 'WORKDIR', 'ENV', 'USER', 'ENTRYPOINT', 'CMD'].includes(i.keyword)),
    [],
    'the runtime runs nothing at build time: nothing of the target architecture executes',
  );
  const labels = runtime.instructions
    .filter((i) => i.keyword === 'LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const key of ['title', 'description', 'version', 'licenses']) assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`));
});

test("one build: the package's bin, npm start, the image's ENTRYPOINT and kubectl conntrack doctor run the bundle npm run build makes, the same way", () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string>; files: string[] };
  const entrypoint = JSON.parse(runtime.instructions.find((i) => i.keyword === 'ENTRYPOINT')!.args) as string[];
  // The daemons under --optimize-for-size --max-opt=2, as the chart runs them through the ENTRYPOINT.
  assert.deepEqual(entrypoint, ['node', '--optimize-for-size', '--max-opt=2', '/app/dist/bundle/main.js']);
  for (const daemon of ['agent', 'controller']) {
    assert.deepEqual(
      binCommandLine([daemon, '--log-level', 'warn']),
      [...inPackage(entrypoint), daemon, '--log-level', 'warn'],
      `bin ${daemon} starts what the image starts`,
    );
  }
  // One-shot commands without it, as kubectl conntrack doctor execs doctor in the agent's container.
  assert.deepEqual(IMAGE_CLI, ['node', '/app/dist/bundle/main.js']);
  for (const args of [['doctor', '--json'], ['plan', '-f', 'p.yaml'], ['--help'], ['kubectl', 'status'], []]) {
    assert.deepEqual(binCommandLine(args), [...inPackage(IMAGE_CLI), ...args], `bin ${args.join(' ')}`);
  }
  assert.equal(pkg.bin['conntrack-operator'], 'bin/conntrack-operator');
  assert.match(pkg.scripts.start!, /^npm run build && bin\/conntrack-operator agent /);
  assert.equal(pkg.scripts.build, 'node --import tsx scripts/build.ts');
  assert.match(readFileSync(join(ROOT, 'scripts', 'build.ts'), 'utf8'), /entryPoints: \['src\/cli\/main\.ts'\][\s\S]*outdir: BUNDLE_DIR/);
  assert.equal(pkg.scripts.prepack, 'npm run build', 'a packed package carries the bundle');
  assert.deepEqual(pkg.files.sort(), ['bin', 'crds', 'dist/bundle', 'examples']);
});

/** Whether .dockerignore keeps path out of the build context: the last pattern that matches it decides, `!` lets it back in. */
function ignoredByDockerignore(path: string): boolean {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  let ignored = false;
  for (const line of lines) {
    const negated = line.startsWith('!');
    const pattern = new RegExp(`^${(negated ? line.slice(1) : line).replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`);
    if (pattern.test(path)) ignored = !negated;
  }
  return ignored;
}

test('ignoredByDockerignore: later patterns win, ! lets a path back in', () => {
  for (const [path, want] of [
    ['scripts/image/sbom.ts', false],
    ['scripts/image/build.sh', true],
    ['scripts', true],
    ['src/cli/main.ts', false],
    ['node_modules/x', true],
    ['debug.log', true],
  ] as const) {
    assert.equal(ignoredByDockerignore(path), want, path);
  }
});

test('every COPY source is in the build context (present and not .dockerignore-d) or comes from an earlier stage', () => {
  for (const [index, s] of stages.entries()) {
    for (const copy of s.instructions.filter((i) => i.keyword === 'COPY')) {
      const words = copy.args.split(/\s+/);
      const fromStage = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const sources = words.filter((w) => !w.startsWith('--')).slice(0, -1);
      if (fromStage) {
        assert.ok(
          stages.slice(0, index).some((earlier) => earlier.name === fromStage),
          `COPY --from=${fromStage}: no earlier stage of that name`,
        );
        continue;
      }
      for (const source of sources) {
        assert.ok(existsSync(join(ROOT, source)), `COPY ${source}: not in the repository`);
        assert.ok(!ignoredByDockerignore(source.replace(/\/$/, '')), `COPY ${source}: excluded by .dockerignore`);
        if (source.endsWith('/')) assert.ok(statSync(join(ROOT, source)).isDirectory() && readdirSync(join(ROOT, source)).length > 0);
      }
    }
  }
});

test('npm steps get the optional "npmrc" build secret; no npm config or CA bundle lands in a layer', () => {
  const npmRuns = stages.flatMap((s) => s.instructions).filter((i) => i.keyword === 'RUN' && /\bnpm (ci|pack)\b/.test(i.args));
  assert.equal(npmRuns.length, 2, 'npm ci in the build stage, npm pack of Node.js in the node stage');
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
  const modeUnion = /(?:export )?type IptablesMode = ([^;]+);/.exec(readFileSync(join(ROOT, 'src/kernel/notrack/iptables-backend.ts'), 'utf8'))?.[1] ?? '';
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

test('the Debian packages of the runtime provide every tool the code runs', { skip: dpkgMissing }, (t) => {
  const rootfsLine = runs(stage('rootfs')).find((r) => r.startsWith('runtime-rootfs.sh '));
  assert.ok(rootfsLine, 'runtime-rootfs.sh in the rootfs stage');
  // runtime-rootfs.sh ARCH OUT PACKAGE...
  const installed = new Set(rootfsLine.match(/"[^"]*"|\S+/g)!.slice(3));
  assert.ok(
    runtime.instructions.some((i) => i.keyword === 'COPY' && i.args === '--from=rootfs /rootfs/ /'),
    'the runtime is that root filesystem',
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

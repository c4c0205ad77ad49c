// One version: package.json's. The chart's version and appVersion, the
// Dockerfile's ARG VERSION and the chart's default image tag agree with it
// (else: node --import tsx scripts/version.ts, which `npm version` runs).
// `--version` is checked in bundle.test.ts, the image's label, tag and
// --version in test/image, `helm package` in chart-apply.test.ts.
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { packageVersion, syncVersion, versionMismatches } from '../../scripts/version.js';
import { renderChart } from './render.js';

const ROOT = join(import.meta.dirname, '..', '..');
const VERSION = packageVersion(ROOT);

test("package.json's version is a semantic version, and every copy of it agrees", () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
  assert.deepEqual(versionMismatches(ROOT), []);
});

test("the chart's default image tag is that version (appVersion)", async () => {
  const { objects } = await renderChart();
  const images = objects.flatMap((o) => (o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image) as string[]);
  assert.ok(images.length >= 2, 'the agent and the controller');
  for (const image of images) assert.match(image, new RegExp(`:${VERSION.replaceAll('.', '\\.')}$`), image);
});

test('scripts/version.ts finds every copy that differs, and writes the version into each', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-version-'));
  try {
    for (const f of ['package.json', 'Dockerfile', 'charts/conntrack-operator/Chart.yaml']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      cpSync(join(ROOT, f), join(dir, f));
    }
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    pkg.version = '7.8.9-rc.1';
    writeFileSync(join(dir, 'package.json'), JSON.stringify(pkg));
    assert.deepEqual(versionMismatches(dir), [
      `charts/conntrack-operator/Chart.yaml version: found ${VERSION}, package.json has 7.8.9-rc.1`,
      `charts/conntrack-operator/Chart.yaml appVersion: found ${VERSION}, package.json has 7.8.9-rc.1`,
      `Dockerfile ARG VERSION: found ${VERSION}, package.json has 7.8.9-rc.1`,
    ]);
    assert.equal(syncVersion(dir).length, 3);
    assert.deepEqual(versionMismatches(dir), []);
    const chart = readFileSync(join(dir, 'charts/conntrack-operator/Chart.yaml'), 'utf8');
    assert.match(chart, /^version: 7\.8\.9-rc\.1$/m);
    assert.match(chart, /^appVersion: "7\.8\.9-rc\.1"$/m, 'the quotes stay');
    assert.equal(
      chart.replace('7.8.9-rc.1', VERSION).replace('7.8.9-rc.1', VERSION),
      readFileSync(join(ROOT, 'charts/conntrack-operator/Chart.yaml'), 'utf8'),
      'nothing else changed',
    );
    assert.match(readFileSync(join(dir, 'Dockerfile'), 'utf8'), /^ARG VERSION=7\.8\.9-rc\.1$/m);

    writeFileSync(join(dir, 'Dockerfile'), 'FROM scratch\n');
    assert.deepEqual(versionMismatches(dir), [`Dockerfile ARG VERSION: not found, package.json has 7.8.9-rc.1`]);
    assert.throws(() => syncVersion(dir), /Dockerfile: no ARG VERSION line/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

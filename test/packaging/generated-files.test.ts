// The committed copies generated from other sources are up to date: the chart's
// crds/ (from crds/, `npm run gen:crds`) and manifests/ (from the chart,
// `npm run gen:manifests`).
import { loadAll } from 'js-yaml';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { MANIFEST_PATH, renderManifests } from '../../scripts/gen-manifests.js';
import { CHART_CRD_DIR, SOURCE_DIR, staleChartCrds, syncChartCrds } from '../../scripts/sync-chart-crds.js';
import { parseYaml } from './render.js';

test('charts/conntrack-operator/crds/ holds exactly crds/ (else: npm run gen:crds)', () => {
  assert.deepEqual(staleChartCrds(SOURCE_DIR, CHART_CRD_DIR), []);
  assert.ok(readdirSync(CHART_CRD_DIR).length >= 2);
});

test('manifests/ is what the chart renders (else: npm run gen:manifests)', async () => {
  const expected = await renderManifests();
  assert.ok(readFileSync(MANIFEST_PATH, 'utf8') === expected, 'manifests/conntrack-operator.yaml is stale: run npm run gen:manifests');
});

test('manifests/ carries the CRDs and its namespace, namespace first among namespaced objects', () => {
  const objects = loadAll(readFileSync(MANIFEST_PATH, 'utf8')).filter(Boolean) as { kind: string; metadata: { name: string; namespace?: string } }[];
  const crdNames = readdirSync(SOURCE_DIR)
    .map((f) => parseYaml(readFileSync(join(SOURCE_DIR, f), 'utf8')).metadata.name)
    .sort();
  assert.deepEqual(
    objects
      .filter((o) => o.kind === 'CustomResourceDefinition')
      .map((o) => o.metadata.name)
      .sort(),
    crdNames,
  );
  const nsIndex = objects.findIndex((o) => o.kind === 'Namespace');
  assert.ok(nsIndex >= 0, 'no Namespace');
  const namespaced = objects.filter((o) => o.metadata.namespace);
  assert.ok(namespaced.every((o) => o.metadata.namespace === objects[nsIndex]!.metadata.name));
  assert.ok(objects.findIndex((o) => o.metadata.namespace) > nsIndex);
});

test('the CRD sync finds changed, missing and orphaned copies, and fixes them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctop-crd-sync-'));
  try {
    const from = join(dir, 'from');
    const to = join(dir, 'to');
    mkdirSync(from);
    writeFileSync(join(from, 'a.yaml'), 'a: 1\n');
    writeFileSync(join(from, 'b.yaml'), 'b: 1\n');
    assert.deepEqual(staleChartCrds(from, to), ['a.yaml', 'b.yaml'], 'no copies yet');
    assert.deepEqual(syncChartCrds(from, to), ['a.yaml', 'b.yaml']);
    assert.deepEqual(staleChartCrds(from, to), []);

    writeFileSync(join(from, 'a.yaml'), 'a: 2\n');
    writeFileSync(join(to, 'old.yaml'), 'old: 1\n');
    assert.deepEqual(staleChartCrds(from, to), ['a.yaml', 'old.yaml']);
    syncChartCrds(from, to);
    assert.deepEqual(readdirSync(to).sort(), ['a.yaml', 'b.yaml']);
    assert.equal(readFileSync(join(to, 'a.yaml'), 'utf8'), 'a: 2\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

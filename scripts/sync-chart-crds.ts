// Copies the generated CRDs (crds/*.yaml, from `npm run gen:crds`) into the
// chart's crds/ folder, where Helm installs them before the templates.
//   node --import tsx scripts/sync-chart-crds.ts          write the copies
//   node --import tsx scripts/sync-chart-crds.ts --check  exit 1 when they are stale
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(import.meta.dirname, '..');
export const SOURCE_DIR = join(ROOT, 'crds');
export const CHART_CRD_DIR = join(ROOT, 'charts', 'conntrack-operator', 'crds');

function yamlFiles(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
  } catch {
    return []; // no folder yet: nothing copied so far
  }
}

/** File names in `to` that differ from `from`, are missing there, or have no source any more. */
export function staleChartCrds(from: string, to: string): string[] {
  const sources = yamlFiles(from);
  const differing = sources.filter((f) => {
    try {
      return readFileSync(join(to, f), 'utf8') !== readFileSync(join(from, f), 'utf8');
    } catch {
      return true;
    }
  });
  const orphans = yamlFiles(to).filter((f) => !sources.includes(f));
  return [...differing, ...orphans];
}

/** Makes `to` hold exactly the CRD files of `from`; returns the names written or removed. */
export function syncChartCrds(from: string, to: string): string[] {
  const stale = staleChartCrds(from, to);
  mkdirSync(to, { recursive: true });
  for (const f of stale) {
    const source = join(from, f);
    try {
      writeFileSync(join(to, f), readFileSync(source, 'utf8'));
    } catch {
      rmSync(join(to, f), { force: true }); // its source is gone
    }
  }
  return stale;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (yamlFiles(SOURCE_DIR).length === 0) {
    console.error(`no CRDs in ${SOURCE_DIR}: run npm run gen:crds first`);
    process.exit(1);
  }
  if (process.argv.includes('--check')) {
    const stale = staleChartCrds(SOURCE_DIR, CHART_CRD_DIR);
    if (stale.length) {
      console.error(`stale chart CRDs: ${stale.map((f) => `charts/conntrack-operator/crds/${f}`).join(', ')}\nrun: npm run gen:crds`);
      process.exit(1);
    }
    console.log('charts/conntrack-operator/crds/ is up to date');
  } else {
    const changed = syncChartCrds(SOURCE_DIR, CHART_CRD_DIR);
    console.log(
      changed.length ? `synced ${changed.map((f) => `charts/conntrack-operator/crds/${f}`).join(', ')}` : 'charts/conntrack-operator/crds/ is up to date',
    );
  }
}

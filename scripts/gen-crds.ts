// npm run gen:crds — writes crds/*.yaml from the zod schemas.
// npm run gen:crds -- --check — exits 1 when the committed files are stale.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from '../src/api/v1alpha1/crds.js';

const CRD_DIR = join(import.meta.dirname, '..', 'crds');

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

const check = process.argv.includes('--check');
const files = renderCrdFiles();
if (check) {
  const stale = files.filter((f) => readOrNull(join(CRD_DIR, f.fileName)) !== f.text).map((f) => `crds/${f.fileName}`);
  if (stale.length) {
    console.error(`stale CRDs (the zod schemas changed): ${stale.join(', ')}\nrun: npm run gen:crds`);
    process.exit(1);
  }
  console.log('crds/ is up to date');
} else {
  mkdirSync(CRD_DIR, { recursive: true });
  for (const f of files) writeFileSync(join(CRD_DIR, f.fileName), f.text);
  console.log(`wrote ${files.map((f) => `crds/${f.fileName}`).join(', ')}`);
}

// The one build users run: the package's bin, `npm start` and the image all
// start dist/bundle/main.js. esbuild, minified, one chunk per command (a
// command loads only its own), every npm dependency inside: it runs without
// node_modules, and holds far less than the same code loaded from there.
// dist/bundle.meta.json (esbuild's metafile, not shipped) says which package
// files went in; the image's SBOM marks the npm packages by it.
//   npm run build
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const BUNDLE_DIR = join(ROOT, 'dist', 'bundle');
const BUNDLE_META = join(ROOT, 'dist', 'bundle.meta.json');

rmSync(BUNDLE_DIR, { recursive: true, force: true });
const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/cli/main.ts'],
  bundle: true,
  splitting: true,
  minify: true,
  keepNames: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir: BUNDLE_DIR,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  // CommonJS dependencies call require(): an ES module has none of its own.
  banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  // node-fetch (under @kubernetes/client-node) tries require('encoding') for
  // non-UTF-8 bodies and does without it; the API server speaks UTF-8. It is
  // installed only because a dev tool's dependency wants it: left out, as
  // where the dev tools are not installed.
  external: ['encoding'],
  metafile: true,
});
writeFileSync(BUNDLE_META, JSON.stringify(result.metafile));

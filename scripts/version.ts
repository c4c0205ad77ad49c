// One version, package.json's: `--version` reads it, build.sh tags the image
// with it, and these copies follow it (`npm version X` runs this script, then
// regenerates manifests/ and stages the files):
// - charts/conntrack-operator/Chart.yaml `version` and `appVersion` (the
//   chart's default image tag);
// - the Dockerfile's `ARG VERSION=` (the image's version label when it is
//   built without build.sh).
//   node --import tsx scripts/version.ts          write the copies
//   node --import tsx scripts/version.ts --check  exit 1 naming each copy that differs
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Copy {
  file: string;
  what: string;
  /** A multiline regex with indices (flags dm) whose first group is the version. */
  pattern: RegExp;
}

const COPIES: Copy[] = [
  { file: 'charts/conntrack-operator/Chart.yaml', what: 'version', pattern: /^version: "?([^"\s]+)"?$/dm },
  { file: 'charts/conntrack-operator/Chart.yaml', what: 'appVersion', pattern: /^appVersion: "?([^"\s]+)"?$/dm },
  { file: 'Dockerfile', what: 'ARG VERSION', pattern: /^ARG VERSION=(\S+)$/dm },
];

export function packageVersion(root: string): string {
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

/** "file what: found X, package.json has Y" for every copy that differs or is missing. */
export function versionMismatches(root: string): string[] {
  const version = packageVersion(root);
  return COPIES.flatMap(({ file, what, pattern }) => {
    const found = pattern.exec(readFileSync(join(root, file), 'utf8'))?.[1];
    return found === version ? [] : [`${file} ${what}: ${found === undefined ? 'not found' : `found ${found}`}, package.json has ${version}`];
  });
}

/** Writes package.json's version into every copy; returns the mismatches it fixed. Throws when a copy's line is missing. */
export function syncVersion(root: string): string[] {
  const version = packageVersion(root);
  const fixed = versionMismatches(root);
  for (const { file, what, pattern } of COPIES) {
    const path = join(root, file);
    const text = readFileSync(path, 'utf8');
    const [start, end] = pattern.exec(text)?.indices?.[1] ?? [];
    if (start === undefined || end === undefined) throw new Error(`${file}: no ${what} line to write the version into`);
    writeFileSync(path, text.slice(0, start) + version + text.slice(end));
  }
  return fixed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = join(import.meta.dirname, '..');
  if (process.argv.includes('--check')) {
    const mismatches = versionMismatches(root);
    for (const m of mismatches) console.error(m);
    process.exit(mismatches.length ? 1 : 0);
  }
  for (const m of syncVersion(root)) console.error(`fixed: ${m}`);
}

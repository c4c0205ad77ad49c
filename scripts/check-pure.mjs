#!/usr/bin/env node
// Pure code (policy/, report builders, the planner) must not do I/O: it may not
// import node: modules or the kernel/kube layers. This keeps it so.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

// Folders (every .ts below) and single files that must stay pure.
export const PURE_PATHS = ['src/policy', 'src/report', 'src/reconcile/planner.ts', 'src/reconcile/drift.ts', 'src/backoff.ts'];
const FORBIDDEN = [/^node:/, /^(fs|child_process|net|http|https|os|path)$/, /\/kernel\//, /\/kube\//, /^@kubernetes\//, /^pino$/];

function files(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return []; // not written yet
  }
  if (!stat.isDirectory()) return path.endsWith('.ts') ? [path] : [];
  return readdirSync(path).flatMap((n) => files(join(path, n)));
}

export function impurities(root = '.') {
  const found = [];
  for (const pure of PURE_PATHS) {
    for (const file of files(join(root, pure))) {
      const text = readFileSync(file, 'utf8');
      // `import type` only names shapes (e.g. a kernel snapshot's type) and does no I/O.
      for (const m of text.matchAll(/^\s*(?:import|export)(?!\s+type\s)[^'"]*from\s+['"]([^'"]+)['"]/gm)) {
        const spec = m[1];
        if (FORBIDDEN.some((re) => re.test(spec))) found.push(`${file}: imports ${spec}`);
      }
    }
  }
  return found;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const found = impurities();
  for (const f of found) console.error(`pure module does I/O: ${f}`);
  process.exit(found.length ? 1 : 0);
}

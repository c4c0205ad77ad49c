// The layer rules of eslint.config.js (README, ARCHITECTURE) refuse what they
// should and let through what they should: each case lints one import as if
// it stood in the named file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULES = ['@typescript-eslint/no-restricted-imports', 'no-restricted-properties', 'no-restricted-syntax'];

const CASES: Array<{ file: string; code: string; refused: boolean }> = [
  // layers: only downwards
  { file: 'src/kernel/x.ts', code: "import { a } from '../policy/cidr.js';", refused: false },
  { file: 'src/kernel/x.ts', code: "import { a } from '../reconcile/executor.js';", refused: true },
  { file: 'src/kernel/x.ts', code: "import type { A } from '../reconcile/executor.js';", refused: true },
  { file: 'src/kernel/notrack/x.ts', code: "import { a } from '../../kube/cluster-api.js';", refused: true },
  { file: 'src/agent/x.ts', code: "import { a } from '../cli/main.js';", refused: true },
  { file: 'src/controller/x.ts', code: "import { a } from '../kube/reflector.js';", refused: false },
  { file: 'src/kube/x.ts', code: "import { a } from '../controller/leader-election.js';", refused: true },
  { file: 'src/api/v1alpha1/x.ts', code: "import { a } from '../../policy/load.js';", refused: true },
  { file: 'src/cli/x.ts', code: "import { a } from '../controller/policy-controller.js';", refused: false },
  // the configuration only in cli/
  { file: 'src/agent/x.ts', code: "import { a } from '../config.js';", refused: true },
  { file: 'src/cli/x.ts', code: "import { a } from '../config.js';", refused: false },
  // shared modules stand on no layer
  { file: 'src/errors.ts', code: "import { a } from './policy/load.js';", refused: true },
  // pure code: no I/O, kernel types only
  { file: 'src/policy/x.ts', code: "import { readFile } from 'node:fs/promises';", refused: true },
  { file: 'src/report/x.ts', code: "import { readFileSync } from 'fs';", refused: true },
  { file: 'src/report/x.ts', code: "import { pino } from 'pino';", refused: true },
  { file: 'src/report/x.ts', code: "import { Gauge } from 'prom-client';", refused: true },
  { file: 'src/policy/x.ts', code: "import { Registry } from 'prom-client';", refused: true },
  { file: 'src/metrics/x.ts', code: "import { Gauge } from 'prom-client';", refused: false },
  { file: 'src/metrics/x.ts', code: "import type { A } from '../report/node-status.js';", refused: false },
  { file: 'src/report/x.ts', code: "import { a } from '../metrics/registries.js';", refused: true },
  { file: 'src/agent/x.ts', code: "import { a } from '../metrics/registries.js';", refused: false },
  { file: 'src/durations.ts', code: "import { a } from 'node:fs';", refused: true },
  { file: 'src/regular-file.ts', code: "import { a } from './reconcile/planner.js';", refused: true },
  { file: 'src/report/x.ts', code: "import { a } from '../kernel/snapshot.js';", refused: true },
  { file: 'src/report/x.ts', code: "import type { A } from '../kernel/snapshot.js';", refused: false },
  { file: 'src/report/x.ts', code: "import type { A } from '../kube/cluster-api.js';", refused: true },
  { file: 'src/policy/x.ts', code: "import type { A } from '../kernel/snapshot.js';", refused: true },
  { file: 'src/reconcile/planner.ts', code: "import { a } from 'node:fs';", refused: true },
  { file: 'src/reconcile/executor.ts', code: "import { a } from 'node:fs';", refused: false },
  { file: 'src/kernel/table-summary.ts', code: "import { a } from 'node:fs';", refused: true },
  { file: 'src/backoff.ts', code: "import { a } from 'node:timers';", refused: true },
  // the environment only in config.ts
  { file: 'src/kernel/x.ts', code: 'export const a = process.env.HOME;', refused: true },
  { file: 'src/config.ts', code: 'export const a = process.env.HOME;', refused: false },
  // the wall clock only in clock.ts
  { file: 'src/kube/x.ts', code: 'export const a = Date.now();', refused: true },
  { file: 'src/agent/x.ts', code: 'export const a = new Date();', refused: true },
  { file: 'src/agent/x.ts', code: 'export const a = new Date(0);', refused: false },
  { file: 'src/clock.ts', code: 'export const a = Date.now();', refused: false },
];

test('layer and purity rules', async () => {
  const eslint = new ESLint({ cwd: ROOT });
  for (const c of CASES) {
    // Use what is imported, so that no other rule (unused variables) speaks.
    const imported = /^import (type )?\{ (\w+) \}/.exec(c.code);
    const use = !imported ? '' : imported[1] ? `export type Used = ${imported[2]};` : `export const used = ${imported[2]};`;
    const [result] = await eslint.lintText(`${c.code}\n${use}\n`, { filePath: `${ROOT}${c.file}` });
    const refusals = (result?.messages ?? []).filter((m) => RULES.includes(m.ruleId ?? ''));
    assert.equal(refusals.length > 0, c.refused, `${c.file}: ${c.code} → ${refusals.map((m) => m.message).join('; ') || 'allowed'}`);
  }
});

// The lint rules, and the layer rules of README.md's ARCHITECTURE section:
// each folder of src/ may import only the folders below it, and the pure ones
// (no I/O, so unit tests need no fakes) may not import node:, the kernel's or
// the API's runtime code, or a logger.
import tseslint from 'typescript-eslint';

/** From the bottom up: a folder may import the ones before it, never one after it. */
const LAYERS = ['api', 'policy', 'kernel', 'reconcile', 'report', 'metrics', 'agent', 'kube', 'controller', 'cli'];

/** Pure code: folders, and single files in otherwise impure folders. */
const PURE = [
  'src/api/**',
  'src/policy/**',
  'src/report/**',
  'src/kernel/table-summary.ts',
  'src/kernel/top-k.ts',
  'src/kernel/nat/nat-rules.ts',
  'src/kernel/nat/parse-iptables-nat.ts',
  'src/kernel/nat/parse-nft-nat.ts',
  'src/agent/agent-state.ts',
  'src/agent/watch-state.ts',
  'src/reconcile/planner.ts',
  'src/reconcile/drift.ts',
  'src/reconcile/nat/**',
  'src/backoff.ts',
  'src/work-queue.ts',
  'src/durations.ts',
  'src/text-order.ts',
];

/** Outside every layer: small shared modules anything may import. */
const SHARED = ['errors', 'clock', 'text-order', 'backoff', 'work-queue', 'atomic-file', 'regular-file', 'durations', 'self-signed-cert'];

const higher = (layer) => LAYERS.slice(LAYERS.indexOf(layer) + 1);
const folderPattern = (names) => `(^|/)(${names.join('|')})/`;

function layerPatterns(layer) {
  return [
    {
      regex: folderPattern(higher(layer)),
      message: `${layer}/ sits below ${higher(layer).join(', ')}: move the shared piece down instead (README, ARCHITECTURE)`,
    },
    // Only the commands read the configuration; everyone else is handed values.
    ...(layer === 'cli' ? [] : [{ regex: '(^|/)config\\.js$', message: 'only src/cli reads the configuration; take values through the constructor' }]),
  ];
}

/** What pure code of `layer` may not import; a layer's own kernel/API types it may, when that layer is below it. */
function purePatterns(layer) {
  const typesOnly = ['kernel', 'kube'].filter((io) => LAYERS.indexOf(io) < LAYERS.indexOf(layer));
  return [
    { regex: '^(node:|(fs|child_process|net|http|https|os|path)$)', message: 'pure code does no I/O (README, ARCHITECTURE)' },
    { regex: '^(pino|@kubernetes/)', message: 'pure code does no I/O (README, ARCHITECTURE)' },
    // A prom-client metric is a module-level registry's state: metrics live in src/metrics/.
    { regex: '^prom-client', message: 'pure code holds no metric state: declare metrics in src/metrics/ (README, ARCHITECTURE)' },
    { regex: '(^|/)(logger|config)\\.js$', message: 'pure code neither logs nor reads the configuration' },
    // A type only names a shape: pure code may import the types of a lower I/O layer, not its code.
    ...(typesOnly.length
      ? [{ regex: folderPattern(typesOnly), allowTypeImports: true, message: `pure code may import only the types of ${typesOnly.join(' and ')}/` }]
      : []),
  ];
}

const isPure = (file) => PURE.some((p) => (p.endsWith('/**') ? file.startsWith(p.slice(0, -2)) : file === p));

/** One rule per file group: ESLint keeps only the last setting of a rule, so each group states all of its patterns. */
function restrict(files, patterns) {
  return { files, rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns }] } };
}

const layerConfigs = LAYERS.map((layer) =>
  restrict([`src/${layer}/**/*.ts`], [...layerPatterns(layer), ...(isPure(`src/${layer}/x`) ? purePatterns(layer) : [])]),
);
// Pure files and sub-folders of otherwise impure layers (src/reconcile/nat/**).
const pureFileConfigs = PURE.filter((p) => !LAYERS.some((l) => p === `src/${l}/**`)).map((file) => {
  const layer = LAYERS.find((l) => file.startsWith(`src/${l}/`));
  return restrict([file.endsWith('/**') ? `${file}/*.ts` : file], [...layerPatterns(layer), ...purePatterns(layer)]);
});
const sharedConfigs = SHARED.map((name) => {
  const file = `src/${name}.ts`;
  return restrict([file], [{ regex: folderPattern(LAYERS), message: 'a shared module depends on no layer' }, ...(isPure(file) ? purePatterns('api') : [])]);
});

// ICU's collation and number formatting cost the agent about 7 MB of resident
// memory (src/text-order.ts); our names are ASCII and our counts use commas.
const NO_ICU = [
  { property: 'localeCompare', message: 'sort with compareText (src/text-order.ts): ICU collation costs memory and depends on the locale' },
  { property: 'toLocaleString', message: 'print counts with countText (src/report/count-text.ts): ICU number formatting costs memory' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'test/fixtures/**', 'run/**'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  // Tests read JSON answers of the API server and kubectl, whose shape is the thing under test.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  { files: ['src/**/*.ts'], rules: { 'no-restricted-properties': ['error', ...NO_ICU] } },
  // The environment is read in one place (config.ts, handed it by cli/main.ts); everything else is given values.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/config.ts', 'src/cli/main.ts'],
    rules: {
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'read the environment in src/config.ts only' }, ...NO_ICU],
    },
  },
  // The wall clock is read in one place (src/clock.ts); everything else is handed a Clock, so a test can set the time.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/clock.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'take a Clock (src/clock.ts) instead of reading the wall clock' },
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'take a Clock (src/clock.ts) instead of reading the wall clock' },
      ],
    },
  },
  ...layerConfigs,
  ...sharedConfigs,
  ...pureFileConfigs,
);

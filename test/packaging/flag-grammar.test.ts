// One grammar for every chart value the templates turn into a flag of the
// binary. values.schema.json carries src/'s patterns and enums verbatim, and
// for every form listed here, accepted or refused, the schema (real helm) and
// the binary's flag parser (on the command line helm rendered) answer alike.
// A value the schema lets through and the binary refuses crash-loops every
// agent; one the binary takes and the schema refuses is a needless refusal.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dump, loadAll } from 'js-yaml';
import { BACKENDS, loadConfig, LOG_LEVELS } from '../../src/config.js';
import { cidrPattern } from '../../src/policy/cidr.js';
import { durationPattern, MAX_WHOLE_SECONDS } from '../../src/durations.js';
import { runHelm } from '../support/kube/tools.js';
import { CHART_DIR, NAMESPACE, RELEASE, type K8sObject } from './render.js';

const schema = JSON.parse(readFileSync(join(CHART_DIR, 'values.schema.json'), 'utf8'));
/** The schema of a value path ("agent.interval"); "[]" steps into an array's items. */
function schemaAt(path: string): Record<string, any> {
  return path.split('.').reduce((node, key) => (key === '[]' ? node.items : node.properties[key]), schema);
}

/** What the kubelet expands in args from the container's env before exec. */
const KUBELET_ENV: Record<string, string> = { POD_NAMESPACE: NAMESPACE, POD_IP: '192.0.2.7' };
const expand = (args: string[]) => args.map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_, name: string) => KUBELET_ENV[name] ?? `$(${name})`));

/** The binary's verdict on a command line: its config, or the UsageError's message. */
function binary(argv: string[]): { ok: true; config: ReturnType<typeof loadConfig> } | { ok: false; message: string } {
  try {
    return { ok: true, config: loadConfig(argv, { NODE_NAME: 'node-1', POD_NAME: 'controller-0' }, 'host') };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'ctop-flag-grammar-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** helm template with a values file holding `values` (typed as YAML types them: numbers stay numbers). */
async function helmWith(values: Record<string, unknown>): Promise<{ ok: true; objects: K8sObject[] } | { ok: false; stderr: string }> {
  const file = join(dir, `values-${files++}.yaml`);
  writeFileSync(file, dump(values));
  const r = await runHelm(['template', RELEASE, CHART_DIR, '--namespace', NAMESPACE, '-f', file]);
  if (r.code !== 0) return { ok: false, stderr: r.stderr };
  return { ok: true, objects: loadAll(r.stdout).filter((o): o is K8sObject => o !== null && typeof o === 'object') };
}

/** {a: {b: value}} for "a.b". */
function nested(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

const COMPONENT = { agent: { kind: 'DaemonSet', command: ['agent', '--kubernetes'] }, controller: { kind: 'Deployment', command: ['controller'] } };
type Component = keyof typeof COMPONENT;
const argsOf = (objects: K8sObject[], component: Component): string[] =>
  expand(objects.find((o) => o.kind === COMPONENT[component].kind)!.spec.template.spec.containers[0].args);

interface ScalarValue {
  /** The value path, e.g. "agent.interval". */
  path: string;
  /** The flag the value becomes, as the binary would be given the form alone. */
  flag: (form: string) => string;
  forms: unknown[];
  /** Forms the binary takes and the chart refuses on purpose, and why. */
  narrower?: { forms: unknown[]; why: string };
}

const DURATION_FORMS = [
  ...[30, 1, 90, 999_999, 10_000_000, 0, -1, 1.5, '30', '0030', '1000000'],
  ...['30s', '5m', '1h', '1m30s', '1h30m15s', '1h0m0s', '0h0m1s', '90m', '99h9999m999999s', '100h', '10000m', '1000000s'],
  ...['0s', '0h0m0s', '1500ms', '1000ms', '30S', '1d', '30s10m', '1h1h', ' 30s', '30s ', '+30s', '-30s', '1.5h', 'soon', ''],
];
const PORT_FORMS = [1, 9753, 65535, 0, 65536, -1, 1.5, '9753', '', 'http'];
const LEVEL_FORMS = [...LOG_LEVELS, 'INFO', 'warning', 'verbose', ''];

const SCALARS: ScalarValue[] = [
  { path: 'agent.interval', flag: (f) => `--interval=${f}`, forms: DURATION_FORMS },
  { path: 'agent.notrackBackend', flag: (f) => `--notrack-backend=${f}`, forms: [...BACKENDS, 'iptables', 'IPTABLES-NFT', 'ipvs', ''] },
  { path: 'agent.logLevel', flag: (f) => `--log-level=${f}`, forms: LEVEL_FORMS },
  { path: 'controller.logLevel', flag: (f) => `--log-level=${f}`, forms: LEVEL_FORMS },
  {
    path: 'agent.metricsPort',
    flag: (f) => `--metrics-addr=127.0.0.1:${f}`,
    forms: PORT_FORMS,
    narrower: {
      forms: [0, '9753'],
      why: `port 0 (any free port) suits tests, a node port Prometheus reaches must be fixed; the chart's ports are numbers (containerPort)`,
    },
  },
  {
    path: 'controller.metricsPort',
    flag: (f) => `--metrics-addr=0.0.0.0:${f}`,
    forms: PORT_FORMS,
    narrower: {
      forms: [0, '9753'],
      why: `port 0 (any free port) suits tests, the Service must name a fixed one; the chart's ports are numbers (containerPort)`,
    },
  },
  {
    path: 'agent.healthPort',
    flag: (f) => `--health-addr=127.0.0.1:${f}`,
    forms: PORT_FORMS,
    narrower: { forms: [0, '9753'], why: `port 0 (any free port) suits tests, the kubelet's probe must name a fixed one; the chart's ports are numbers` },
  },
  {
    path: 'controller.healthPort',
    flag: (f) => `--health-addr=0.0.0.0:${f}`,
    forms: PORT_FORMS,
    narrower: { forms: [0, '9753'], why: `port 0 (any free port) suits tests, the kubelet's probe must name a fixed one; the chart's ports are numbers` },
  },
  {
    path: 'agent.stateDir',
    flag: (f) => `--state-dir=${f}`,
    forms: ['/var/lib/conntrack-operator', '/srv/ctop', 'relative/dir', '/', ''],
    narrower: { forms: ['relative/dir', '/'], why: 'it is also the hostPath of the state volume: absolute, and not the whole root' },
  },
];

const CIDR_FORMS = [
  ...['10.96.0.0/12', '10.0.0.1', '0.0.0.0/0', '255.255.255.255/32', '192.168.1.7/24', 'fd00::/48', 'fd00:10:96::/112', 'FD00::', '::', '::/0'],
  ...['::ffff:10.0.0.1', '1:2:3:4:5:6:7:8/128', '2001:db8::1:0:0:1'],
  ...['10.96.0.0', '10.96.0/12', '10.96.0.0/33', '10.96.0.0/08', '010.96.0.0/12', '256.0.0.0/8', '999.1.1.1/8', 'fd00::/129', '1::2::3', '12345::/16'],
  ...['10.0.0.1::', ':::', 'fd00:::1', '1:2:3:4:5:6:7', '10.96.0.0/12/1', '10.96.0.0/', 'banana', ''],
];
const LISTS = [
  { path: 'agent.serviceCidrs', flag: '--service-cidr', field: 'serviceCidrs' as const },
  { path: 'agent.podCidrs', flag: '--pod-cidr', field: 'podCidrs' as const },
];

/** The value paths a template's container args render (between "args:" and "env:"). */
function argValuePaths(template: string): string[] {
  const text = readFileSync(join(CHART_DIR, 'templates', template), 'utf8');
  const args = text.slice(text.indexOf('args:'), text.indexOf('env:', text.indexOf('args:')));
  return [...new Set([...args.matchAll(/\.Values\.([A-Za-z.]+)/g)].map((m) => m[1]!.replace(/\.$/, '')))];
}

test('every value the templates render into a flag has its grammar here (or is a boolean or verbatim)', () => {
  const covered = new Set([...SCALARS.map((s) => s.path), ...LISTS.map((l) => l.path)]);
  const notGrammar: Record<string, string> = {
    'agent.dryRun': 'a boolean: the flag or nothing',
    'agent.podNames': 'a boolean: the flag or nothing',
    'agent.extraArgs': 'verbatim flags',
    'controller.extraArgs': 'verbatim flags',
  };
  for (const template of ['agent-daemonset.yaml', 'controller-deployment.yaml']) {
    for (const path of argValuePaths(template))
      assert.ok(covered.has(path) || path in notGrammar, `${template}: ${path} becomes a flag: add its grammar to this test`);
  }
  for (const path of Object.keys(notGrammar)) assert.ok(['boolean', 'array'].includes(schemaAt(path).type), path);
});

test('values.schema.json carries the grammar of src/ verbatim', () => {
  const interval = schemaAt('agent.interval');
  assert.deepEqual(
    [interval.pattern, interval.minimum, interval.maximum],
    [durationPattern(1), 1, MAX_WHOLE_SECONDS],
    'agent.interval: durationPattern(1) and whole seconds 1..MAX_WHOLE_SECONDS',
  );
  for (const list of LISTS) assert.equal(schemaAt(`${list.path}.[]`).pattern, cidrPattern(), `${list.path}: cidrPattern()`);
  assert.deepEqual(schemaAt('agent.notrackBackend').enum, [...BACKENDS]);
  for (const path of ['agent.logLevel', 'controller.logLevel']) assert.deepEqual(schemaAt(path).enum, [...LOG_LEVELS], path);
  for (const path of ['agent.metricsPort', 'controller.metricsPort', 'agent.healthPort', 'controller.healthPort']) {
    assert.deepEqual([schemaAt(path).minimum, schemaAt(path).maximum], [1, 65535], path);
  }
});

/** Runs `fn` over `items`, two at a time: each is a helm process on a shared machine. */
async function eachTwoAtATime<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    [0, 1].map(async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

describe('the schema and the binary answer alike', () => {
  for (const value of SCALARS) {
    test(value.path, async () => {
      const component = value.path.split('.')[0] as Component;
      const verdicts: string[] = [];
      await eachTwoAtATime(value.forms, async (form) => {
        const rendered = await helmWith(nested(value.path, form));
        if (!rendered.ok)
          assert.match(rendered.stderr, new RegExp(`at '/${value.path.replace('.', '/')}'`), `${JSON.stringify(form)}: refused for another reason`);
        // Accepted: the command line helm rendered; refused: the form as the flag's text.
        const parsed = binary(rendered.ok ? argsOf(rendered.objects, component) : [...COMPONENT[component].command, value.flag(String(form))]);
        const narrower = value.narrower?.forms.includes(form);
        verdicts.push(`${JSON.stringify(form)}: schema ${rendered.ok}, binary ${parsed.ok}`);
        if (narrower) assert.deepEqual([rendered.ok, parsed.ok], [false, true], `${JSON.stringify(form)}: ${value.narrower!.why}`);
        else
          assert.equal(
            rendered.ok,
            parsed.ok,
            `${JSON.stringify(form)}: the schema says ${rendered.ok}, the binary ${parsed.ok ? 'takes it' : (parsed as { message: string }).message}`,
          );
      });
      // Both answers occur, or the comparison proved nothing.
      assert.ok(verdicts.some((v) => v.endsWith('binary true')) && verdicts.some((v) => v.endsWith('binary false')), verdicts.join('\n'));
    });
  }

  test('agent.interval: the forms of issue #19, and numbers of a values file', async () => {
    const verdict = async (form: unknown) => (await helmWith(nested('agent.interval', form))).ok;
    assert.deepEqual(await Promise.all(['1500ms', '1m30s', 10_000_000].map(verdict)), [false, true, false]);
    // Helm reads a values file's numbers as floats and prints 1e+06 and above as "1e+06": the largest whole seconds stay below.
    const rendered = await helmWith(nested('agent.interval', MAX_WHOLE_SECONDS));
    assert.ok(rendered.ok);
    assert.ok(argsOf(rendered.objects, 'agent').includes(`--interval=${MAX_WHOLE_SECONDS}`));
  });

  for (const list of LISTS) {
    test(`${list.path} (each item; the list itself round-trips)`, async () => {
      // Commas and spaces around them are the command line's list syntax; the chart's list is YAML.
      const rendered = await helmWith(nested(list.path, CIDR_FORMS));
      const refused = new Set(
        rendered.ok ? [] : [...rendered.stderr.matchAll(new RegExp(`at '/${list.path.replace('.', '/')}/(\\d+)'`, 'g'))].map((m) => Number(m[1])),
      );
      const accepted: string[] = [];
      for (const [i, form] of CIDR_FORMS.entries()) {
        const parsed = binary(['agent', '--kubernetes', `${list.flag}=${form}`]);
        assert.equal(
          !refused.has(i),
          parsed.ok,
          `${JSON.stringify(form)}: the schema says ${!refused.has(i)}, the binary ${parsed.ok ? 'takes it' : (parsed as { message: string }).message}`,
        );
        if (parsed.ok) accepted.push(form);
      }
      assert.ok(accepted.length > 5 && refused.size > 5, `accepted ${accepted.length}, refused ${refused.size}`);
      const all = await helmWith(nested(list.path, accepted));
      assert.ok(all.ok, all.ok ? '' : all.stderr);
      const parsed = binary(argsOf(all.objects, 'agent'));
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
      assert.deepEqual(parsed.config[list.field], accepted);
    });
  }
});

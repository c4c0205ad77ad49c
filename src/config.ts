// Command-line flags and environment, parsed once into a frozen config.
// The only module that reads process.env or process.argv's shape. Every
// command has its own option table; `--help` text is generated from it. Kept
// free of heavy imports (no zod, no client): `--help` and the start of every
// command load this module and little else.
import { parseArgs } from 'node:util';
import { cidrListProblem } from './policy/cidr.js';
import { parseDuration } from './policy/durations.js';

export const BACKENDS = ['auto', 'iptables-nft', 'iptables-legacy', 'nftables'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const OUTPUTS = ['text', 'json', 'yaml'] as const;
export type Output = (typeof OUTPUTS)[number];

interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder of the value in the help text. */
  arg?: string;
  help: string;
}
type OptionTable = Record<string, OptionSpec>;

const HOST: OptionTable = {
  'proc-root': { type: 'string', arg: 'DIR', help: '/proc of the host (default /proc; /host/proc in a pod)' },
  'sys-root': { type: 'string', arg: 'DIR', help: '/sys of the host (default /sys)' },
};
const ENGINE: OptionTable = {
  'state-dir': { type: 'string', arg: 'DIR', help: 'where the values found before our first change are kept (default /var/lib/conntrack-operator)' },
  'notrack-backend': { type: 'string', arg: 'B', help: `${BACKENDS.join(' | ')} (default auto)` },
};
const NODE: OptionTable = {
  'node-name': { type: 'string', arg: 'NAME', help: "this node's name (default: NODE_NAME, else the hostname)" },
  'node-labels': { type: 'string', arg: 'k=v,..', help: 'labels for nodeSelector matching outside Kubernetes' },
  'service-cidr': { type: 'string', arg: 'C,..', help: 'Service CIDRs NOTRACK rules must not cover' },
  'pod-cidr': { type: 'string', arg: 'C,..', help: 'Pod CIDRs NOTRACK rules must not cover' },
};
const OUTPUT: OptionTable = {
  output: { type: 'string', short: 'o', arg: 'FORMAT', help: `${OUTPUTS.join(' | ')} (default text)` },
  json: { type: 'boolean', help: 'same as -o json' },
};
const POLICY: OptionTable = { policy: { type: 'string', short: 'f', arg: 'FILE', help: 'the ConntrackPolicy YAML file (required)' } };
const KUBE: OptionTable = { kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig file (default: KUBECONFIG, else the in-cluster service account)' } };
const DAEMON: OptionTable = {
  'metrics-addr': {
    type: 'string',
    arg: 'HOST:PORT',
    help: '/metrics, and /healthz and /readyz without --health-addr (default 127.0.0.1:9753; :PORT for all addresses)',
  },
  'health-addr': { type: 'string', arg: 'HOST:PORT', help: '/healthz and /readyz on their own, plain HTTP (e.g. 127.0.0.1:9755 for the kubelet)' },
  'metrics-secure': {
    type: 'boolean',
    help: '/metrics over HTTPS, only to a bearer token the API server authenticates (TokenReview) and allows GET /metrics (SubjectAccessReview)',
  },
  'metrics-cert-dir': {
    type: 'string',
    arg: 'DIR',
    help: 'with --metrics-secure: tls.crt and tls.key (re-read when they change); default a self-signed certificate',
  },
  'log-level': { type: 'string', arg: 'L', help: `${LOG_LEVELS.join('|')} (default info)` },
};
const HELP: OptionTable = { help: { type: 'boolean', short: 'h', help: 'show this help' } };

interface CommandSpec {
  summary: string;
  /** Exit codes beyond 0 ok / 1 error. */
  exit?: string;
  options: OptionTable;
}

export const COMMANDS = {
  doctor: {
    summary: "diagnose this host's conntrack table (read-only)",
    exit: '2 when a finding is critical',
    options: {
      ...HOST,
      ...OUTPUT,
      top: { type: 'string', arg: 'N', help: 'how many top sources and destinations (default 10)' },
      'no-table': { type: 'boolean', help: 'skip reading the table (huge tables)' },
      sample: { type: 'string', arg: 'D', help: 'judge drops over this window, as the counters are since boot (default 2s; 0: one sample, totals only)' },
    },
  },
  plan: {
    summary: 'show what a policy would change here; nothing is written',
    exit: '2 when something would change (like diff)',
    options: { ...POLICY, ...OUTPUT, ...HOST, ...ENGINE, ...NODE },
  },
  apply: { summary: 'make this host match the policy, once', options: { ...POLICY, ...OUTPUT, ...HOST, ...ENGINE, ...NODE } },
  restore: { summary: 'put back the values we changed and remove our NOTRACK rules', options: { ...HOST, ...ENGINE } },
  agent: {
    summary: 'keep this host matching its policies: standalone (--policy-file) or in a cluster (--kubernetes)',
    options: {
      'policy-file': { type: 'string', short: 'f', arg: 'FILE', help: 'standalone: the ConntrackPolicy YAML file (re-read when it changes)' },
      kubernetes: { type: 'boolean', help: 'in a cluster: policies from the API, ConntrackStatus and Node events to it (NODE_NAME names the node)' },
      ...KUBE,
      'status-file': { type: 'string', arg: 'FILE', help: 'standalone: write the status document here' },
      interval: { type: 'string', arg: 'D', help: 'time between passes: seconds or a duration such as 30s, 5m, 1m30s (default 30s)' },
      'dry-run': { type: 'boolean', help: 'never write, whatever the policy says' },
      once: { type: 'boolean', help: 'one pass, then exit (standalone only)' },
      'no-pod-names': {
        type: 'boolean',
        help: "--kubernetes: do not list this node's pods (a role without pods list/watch); namespaces are reported by pod UID, events go on the Node only",
      },
      ...DAEMON,
      ...HOST,
      ...ENGINE,
      ...NODE,
    },
  },
  controller: {
    summary: "keep every ConntrackPolicy's status from the node statuses (one per cluster)",
    options: {
      'leader-elect': { type: 'boolean', help: 'elect one active replica with a Lease' },
      'lease-namespace': { type: 'string', arg: 'NS', help: "namespace of the Lease (default POD_NAMESPACE, else 'default')" },
      ...KUBE,
      ...DAEMON,
    },
  },
} satisfies Record<string, CommandSpec>;

export type Command = keyof typeof COMMANDS;
const COMMAND_NAMES = Object.keys(COMMANDS) as Command[];
const isCommand = (name: string): name is Command => Object.hasOwn(COMMANDS, name);

export interface Config {
  command: Command;
  procRoot: string;
  sysRoot: string;
  stateDir: string;
  nodeName: string;
  nodeLabels: Record<string, string>;
  notrackBackend: (typeof BACKENDS)[number];
  serviceCidrs: string[];
  podCidrs: string[];
  logLevel: (typeof LOG_LEVELS)[number];
  output: Output;
  top: number;
  noTable: boolean;
  /** doctor: drops are judged over this window (counters are since boot); 0 takes one sample. */
  sampleMs: number;
  /** plan/apply: --policy; agent: --policy-file. */
  policyFile?: string;
  statusFile?: string;
  metrics: { host: string; port: number };
  /** /healthz and /readyz on their own address (plain HTTP); absent: beside /metrics. */
  health?: { host: string; port: number };
  /** /metrics over HTTPS behind TokenReview and SubjectAccessReview. */
  metricsSecure: boolean;
  /** The serving certificate's folder (tls.crt, tls.key); absent: self-signed. */
  metricsCertDir?: string;
  intervalMs: number;
  dryRun: boolean;
  once: boolean;
  /** agent: policies from the API, status and events to the API. */
  kubernetes: boolean;
  /** agent --kubernetes: list and watch this node's pods to name them (off: --no-pod-names). */
  podNames: boolean;
  /** --kubeconfig, else KUBECONFIG; absent: in-cluster service account. */
  kubeconfig?: string;
  leaderElect: boolean;
  /** Namespace of the controller's Lease (POD_NAMESPACE by default). */
  leaseNamespace: string;
  /** Identity in the Lease (POD_NAME, else the hostname). */
  identity: string;
}

export class UsageError extends Error {
  constructor(
    message: string,
    /** The usage text to show after the message. */
    readonly usage: string,
  ) {
    super(message);
  }
}

/** What the command line asks for: a help text, the version, or a command to run. */
export type Invocation = { help: string } | { version: true } | { config: Readonly<Config> };

const PROGRAM = 'conntrack-operator';

function flagLine(name: string, spec: OptionSpec): [string, string] {
  const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.arg ? ` ${spec.arg}` : ''}`;
  return [flag, spec.help];
}

function columns(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join('\n');
}

export function commandUsage(command: Command): string {
  const spec: CommandSpec = COMMANDS[command];
  const rows = Object.entries({ ...spec.options, ...HELP }).map(([name, o]) => flagLine(name, o));
  return `Usage: ${PROGRAM} ${command} [flags]

${spec.summary}

Flags:
${columns(rows)}

Exit codes: 0 ok; 1 error or bad input${spec.exit ? `; ${spec.exit}` : ''}.`;
}

export function globalUsage(): string {
  return `Usage: ${PROGRAM} <command> [flags]

Commands:
${columns(COMMAND_NAMES.map((c) => [c, COMMANDS[c].summary]))}

Run '${PROGRAM} <command> --help' for the flags of a command; '${PROGRAM} --version' for the version.`;
}

/**
 * For parseArgs: every long flag of every command (so a flag of another command
 * is named as such, not "unknown"), and this command's own with their short
 * letters (one letter may mean different flags in different commands).
 */
function parseArgsOptions(own: OptionTable) {
  const asParseArgs = (entries: Array<[string, OptionSpec]>, withShort: boolean) =>
    Object.fromEntries(entries.map(([name, o]) => [name, { type: o.type, ...(withShort && o.short ? { short: o.short } : {}) }]));
  return {
    ...asParseArgs(
      COMMAND_NAMES.flatMap((c) => Object.entries(COMMANDS[c].options)),
      false,
    ),
    ...asParseArgs(Object.entries(own), true),
  };
}

/** The flag a parseArgs error names ("Unknown option '--x'", "Option '-o, --output <value>' argument missing"). */
function parseArgsProblem(err: Error): string {
  const flag = /'(?:-\w, )?(--?[\w-]+)/.exec(err.message)?.[1];
  const code = (err as { code?: string }).code;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `${flag ?? err.message}: unknown flag`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && / argument missing/.test(err.message)) return `${flag}: needs a value`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `${flag}: takes no value`;
  return err.message;
}

function parseFlags(args: string[], own: OptionTable, usage: string) {
  try {
    return parseArgs({ args, options: parseArgsOptions(own), allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(parseArgsProblem(err as Error), usage);
  }
}

type Values = Record<string, string | boolean | undefined>;

/** Parse argv (without node and script) and the environment. Throws UsageError naming every bad flag. */
export function parseInvocation(argv: string[], env: Record<string, string | undefined>, hostname: string): Invocation {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { help: globalUsage() };
  if (first === '--version' || first === 'version') return { version: true };
  if (!isCommand(first)) throw new UsageError(`unknown command "${first}"`, globalUsage());
  const command = first;
  const usage = commandUsage(command);
  const own: OptionTable = { ...COMMANDS[command].options, ...HELP };
  const parsed = parseFlags(rest, own, usage);
  const problems: string[] = [];
  for (const token of parsed.tokens) {
    if (token.kind === 'positional') problems.push(`unexpected argument "${token.value}"`);
    if (token.kind === 'option' && !Object.hasOwn(own, token.name)) problems.push(`--${token.name}: ${command} does not take this flag`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'), usage);
  const values = parsed.values as Values;
  if (values.help) return { help: usage };
  const config = buildConfig(command, values, env, hostname, problems);
  if (problems.length) throw new UsageError(problems.join('\n'), usage);
  return { config };
}

/** The config of a command line that runs a command; help or version is a UsageError (tests, callers that only run). */
export function loadConfig(argv: string[], env: Record<string, string | undefined>, hostname: string): Readonly<Config> {
  const inv = parseInvocation(argv, env, hostname);
  if ('config' in inv) return inv.config;
  throw new UsageError('', 'help' in inv ? inv.help : globalUsage());
}

function buildConfig(command: Command, v: Values, env: Record<string, string | undefined>, hostname: string, problems: string[]): Readonly<Config> {
  const str = (name: string): string | undefined => {
    const value = v[name] as string | undefined;
    if (value === '') problems.push(`--${name}: must not be empty`);
    return value || undefined;
  };
  const check = <T>(name: string, parse: (text: string) => T | string, fallback: T): T => {
    const text = str(name);
    if (text === undefined) return fallback;
    const value = parse(text);
    if (typeof value === 'string') {
      problems.push(`--${name}: ${value}`);
      return fallback;
    }
    return value;
  };
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T =>
    check(name, (text) => ((allowed as readonly string[]).includes(text) ? { value: text as T } : `"${text}" is not one of ${allowed.join(', ')}`), {
      value: fallback,
    }).value;

  const output = v.json ? 'json' : oneOf('output', OUTPUTS, 'text');
  if (v.json && v.output !== undefined && v.output !== 'json') problems.push(`--json: contradicts -o ${v.output}`);
  const policyFile = str(command === 'agent' ? 'policy-file' : 'policy');
  const kubernetes = v.kubernetes === true;
  if ((command === 'plan' || command === 'apply') && !policyFile) problems.push(`--policy: ${command} needs a policy file`);
  if (command === 'agent') {
    if (kubernetes && policyFile) problems.push('--policy-file: with --kubernetes the policies come from the cluster');
    if (kubernetes && v.once) problems.push('--once: with --kubernetes the agent must watch the cluster; run it as a daemon');
    if (!kubernetes && v['no-pod-names']) problems.push('--no-pod-names: only with --kubernetes (pods are named from the cluster)');
    if (!kubernetes && v['metrics-secure']) problems.push('--metrics-secure: only with --kubernetes (the API server reviews the tokens)');
    if (!kubernetes && !policyFile)
      problems.push('agent needs a policy source: --policy-file FILE (this host alone) or --kubernetes (ConntrackPolicy objects from the cluster)');
  }
  const kubeconfig = str('kubeconfig') ?? (env.KUBECONFIG || undefined);
  const statusFile = str('status-file');
  const metricsCertDir = str('metrics-cert-dir');
  if (metricsCertDir && !v['metrics-secure']) problems.push('--metrics-cert-dir: only with --metrics-secure');
  const health = check<{ host: string; port: number } | undefined>('health-addr', parseAddress, undefined);
  return Object.freeze({
    command,
    procRoot: str('proc-root') ?? '/proc',
    sysRoot: str('sys-root') ?? '/sys',
    stateDir: str('state-dir') ?? '/var/lib/conntrack-operator',
    // In a pod NODE_NAME comes from the downward API; on a plain host the hostname names it.
    nodeName: str('node-name') ?? env.NODE_NAME ?? hostname,
    nodeLabels: check('node-labels', parseLabels, {}),
    notrackBackend: oneOf('notrack-backend', BACKENDS, 'auto'),
    serviceCidrs: check('service-cidr', parseCidrList, []),
    podCidrs: check('pod-cidr', parseCidrList, []),
    logLevel: oneOf('log-level', LOG_LEVELS, 'info'),
    output,
    top: check('top', parseTop, 10),
    noTable: v['no-table'] === true,
    sampleMs: check('sample', parseSample, 2000),
    ...(policyFile ? { policyFile } : {}),
    ...(statusFile ? { statusFile } : {}),
    metrics: check('metrics-addr', parseAddress, { host: '127.0.0.1', port: 9753 }),
    ...(health ? { health } : {}),
    metricsSecure: v['metrics-secure'] === true,
    ...(metricsCertDir ? { metricsCertDir } : {}),
    intervalMs: check('interval', parseInterval, 30_000),
    dryRun: v['dry-run'] === true,
    once: v.once === true,
    kubernetes,
    podNames: v['no-pod-names'] !== true,
    ...(kubeconfig ? { kubeconfig } : {}),
    leaderElect: v['leader-elect'] === true,
    leaseNamespace: str('lease-namespace') ?? env.POD_NAMESPACE ?? 'default',
    identity: env.POD_NAME ?? hostname,
  });
}

// Value parsers: the value, or the reason it is not one.

/** The duration grammar (whole seconds, or "30s", "5m", "1h30m"), in milliseconds. */
function parseInterval(text: string, minSeconds: 0 | 1 = 1): number | string {
  const r = parseDuration(text, minSeconds);
  return r.ok ? r.seconds * 1000 : `"${text}" is not an interval: ${r.reason}`;
}

/** doctor's sampling window: the same grammar, where 0 (or "0s") means no window. */
function parseSample(text: string): number | string {
  return parseInterval(text, 0);
}

function parseTop(text: string): number | string {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && n >= 1 && n <= 1000 ? n : `"${text}" is not a whole number from 1 to 1000`;
}

function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const LABEL_KEY = /^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** A malformed CIDR must not silently skip the Service/Pod overlap check. */
function parseCidrList(text: string): string[] | string {
  const cidrs = parseList(text);
  return cidrListProblem(cidrs) ?? cidrs;
}

function parseLabels(text: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const pair of parseList(text)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (!LABEL_KEY.test(key)) return `"${key}" is not a valid label key`;
    out[key] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  return out;
}

function parseAddress(text: string): { host: string; port: number } | string {
  const m = /^(.*):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) return `"${text}" is not host:port (e.g. 127.0.0.1:9753, :9753 for all addresses)`;
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
}

// Command-line flags and environment, parsed once into a frozen config.
// The only module that reads process.env or process.argv's shape. Every
// command has its own option table; `--help` text is generated from it. Kept
// free of heavy imports (no zod, no client): `--help` and the start of every
// command load this module and little else.
import { parseArgs } from 'node:util';
import { cidrListProblem } from './policy/cidr.js';
import { labelKeyProblem } from './policy/select.js';
import { parseDuration } from './durations.js';

export const BACKENDS = ['auto', 'iptables-nft', 'iptables-legacy', 'nftables'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const OUTPUTS = ['text', 'json', 'yaml'] as const;
type Output = (typeof OUTPUTS)[number];

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
/** doctor's own flags; `kubectl doctor` passes them on to the doctor it runs in the agent's pod. */
const DOCTOR: OptionTable = {
  ...OUTPUT,
  top: { type: 'string', arg: 'N', help: 'how many top sources and destinations (default 10)' },
  'no-table': { type: 'boolean', help: 'skip reading the table (huge tables)' },
  sample: { type: 'string', arg: 'D', help: 'judge drops over this window, as the counters are since boot (default 2s; 0: one sample, totals only)' },
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
/** Where the README and manifests/ install the agents: the namespace when neither -n nor the context names one. */
export const DEFAULT_AGENT_NAMESPACE = 'conntrack-operator';
/** The chart's agent pod labels (selectorLabels with its default name), less the release's instance label. */
export const DEFAULT_AGENT_SELECTOR = 'app.kubernetes.io/name=conntrack-operator,app.kubernetes.io/component=agent';
// The kubectl plugin's commands find the cluster as kubectl does, and the agents by the chart's labels.
const CLUSTER_CLIENT: OptionTable = {
  kubeconfig: { type: 'string', arg: 'FILE', help: 'kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the in-cluster service account)' },
  context: { type: 'string', arg: 'NAME', help: "the kubeconfig's context to use (default: its current-context)" },
  namespace: { type: 'string', short: 'n', arg: 'NS', help: `the agents' namespace (default: the context's, else ${DEFAULT_AGENT_NAMESPACE})` },
  selector: { type: 'string', short: 'l', arg: 'SELECTOR', help: "label selector of the agent pods (default: the chart's agent labels)" },
};

interface CommandSpec {
  summary: string;
  /** The one positional argument the command takes (required), e.g. NODE. */
  positional?: string;
  /** Exit codes beyond 0 ok / 1 error. */
  exit?: string;
  options: OptionTable;
}

export const COMMANDS = {
  doctor: {
    summary: "diagnose this host's conntrack table (read-only)",
    exit: '2 when a finding is critical',
    options: { ...HOST, ...DOCTOR },
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
  'kubectl status': {
    summary: 'every node from its ConntrackStatus, fullest first: usage, fullest namespace, drops now, forecast, policy',
    exit: '2 with --check-ready when a node with an agent pod is not Ready',
    options: {
      ...CLUSTER_CLIENT,
      ...OUTPUT,
      'check-ready': {
        type: 'boolean',
        help: 'also check that the node of every agent pod (-n, -l) has a Ready ConntrackStatus written since the pod started (helm test)',
      },
    },
  },
  'kubectl doctor': {
    summary: "run doctor in NODE's agent pod (kubectl exec) and print it as doctor does on a host",
    positional: 'NODE',
    exit: "doctor's own (2 when a finding is critical); kubectl's when the exec fails",
    options: {
      ...CLUSTER_CLIENT,
      kubectl: { type: 'string', arg: 'PATH', help: 'the kubectl that runs the exec (default: kubectl on PATH)' },
      ...DOCTOR,
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
  /** --kubeconfig; for the agent and the controller also KUBECONFIG; absent: in-cluster service account. */
  kubeconfig?: string;
  /** kubectl commands without --kubeconfig: the files kubectl reads (KUBECONFIG's list, else ~/.kube/config). */
  kubeconfigSearch: string[];
  /** kubectl commands: --context (default: the kubeconfig's current-context). */
  context?: string;
  /** kubectl commands: -n (absent: the context's namespace, else DEFAULT_AGENT_NAMESPACE). */
  namespace?: string;
  /** kubectl commands: the agent pods' label selector. */
  agentSelector: string;
  /** kubectl status: judge every agent pod's node (helm test). */
  checkReady: boolean;
  /** kubectl doctor: the kubectl to exec with. */
  kubectl: string;
  /** kubectl doctor: doctor's own flags as given, passed on to the doctor in the pod. */
  doctorArgs: string[];
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
/** The group of the kubectl plugin's commands: `conntrack-operator kubectl status` is `kubectl conntrack status`. */
const GROUP = 'kubectl';
const PLUGIN = 'kubectl conntrack';

function flagLine(name: string, spec: OptionSpec): [string, string] {
  const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.arg ? ` ${spec.arg}` : ''}`;
  return [flag, spec.help];
}

function columns(rows: Array<[string, string]>): string {
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`).join('\n');
}

/** How the user ran the command, for its messages: `kubectl conntrack status` for the plugin's, `conntrack-operator doctor` for the others. */
export function commandTitle(command: Command): string {
  return command.startsWith(`${GROUP} `) ? `${PLUGIN} ${command.slice(GROUP.length + 1)}` : `${PROGRAM} ${command}`;
}

export function commandUsage(command: Command): string {
  const spec: CommandSpec = COMMANDS[command];
  const rows = Object.entries({ ...spec.options, ...HELP }).map(([name, o]) => flagLine(name, o));
  const synopsis = `${command}${spec.positional ? ` ${spec.positional}` : ''} [flags]`;
  const plugin = command.startsWith(`${GROUP} `) ? `\n   or: ${PLUGIN} ${synopsis.slice(GROUP.length + 1)}   (kubectl plugin: kubectl-conntrack on PATH)` : '';
  return `Usage: ${PROGRAM} ${synopsis}${plugin}

${spec.summary}

Flags:
${columns(rows)}

Exit codes: 0 ok; 1 error or bad input${spec.exit ? `; ${spec.exit}` : ''}.`;
}

/** The kubectl group's commands, as `kubectl conntrack --help` shows them. */
export function groupUsage(): string {
  const commands = COMMAND_NAMES.filter((c) => c.startsWith(`${GROUP} `));
  return `Usage: ${PLUGIN} <command> [flags]   (or: ${PROGRAM} ${GROUP} <command> [flags])

Commands:
${columns(commands.map((c) => [c.slice(GROUP.length + 1), COMMANDS[c].summary]))}

Run '${PLUGIN} <command> --help' for the flags of a command.`;
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
  const [first, ...afterFirst] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { help: globalUsage() };
  if (first === '--version' || first === 'version') return { version: true };
  // A group's subcommand ("kubectl status") is one command of the table.
  const [name, rest] =
    first === GROUP && !afterFirst[0]?.startsWith('-') ? [`${first} ${afterFirst[0] ?? ''}`.trim(), afterFirst.slice(1)] : [first, afterFirst];
  if (name === GROUP)
    return afterFirst.some((a) => a === '--help' || a === '-h') ? { help: groupUsage() } : usageError('kubectl needs a command', groupUsage());
  if (!isCommand(name)) return usageError(`unknown command "${name}"`, name.startsWith(`${GROUP} `) ? groupUsage() : globalUsage());
  const command = name;
  const spec: CommandSpec = COMMANDS[command];
  const usage = commandUsage(command);
  const own: OptionTable = { ...spec.options, ...HELP };
  const parsed = parseFlags(rest, own, usage);
  const problems: string[] = [];
  const positionals: string[] = [];
  const passOn: string[] = [];
  for (const token of parsed.tokens) {
    if (token.kind === 'positional') {
      if (spec.positional && positionals.length === 0) positionals.push(token.value);
      else problems.push(`unexpected argument "${token.value}"`);
    }
    if (token.kind === 'option' && !Object.hasOwn(own, token.name)) problems.push(`--${token.name}: ${command} does not take this flag`);
    if (token.kind === 'option' && Object.hasOwn(DOCTOR, token.name))
      passOn.push(token.value === undefined ? `--${token.name}` : `--${token.name}=${token.value}`);
  }
  if (problems.length) throw new UsageError(problems.join('\n'), usage);
  const values = parsed.values as Values;
  if (values.help) return { help: usage };
  if (spec.positional && positionals.length === 0) problems.push(`${command} needs ${spec.positional}`);
  const config = buildConfig(command, values, env, hostname, problems, { positional: positionals[0], passOn });
  if (problems.length) throw new UsageError(problems.join('\n'), usage);
  return { config };
}

function usageError(message: string, usage: string): never {
  throw new UsageError(message, usage);
}

/** The config of a command line that runs a command; help or version is a UsageError (tests, callers that only run). */
export function loadConfig(argv: string[], env: Record<string, string | undefined>, hostname: string): Readonly<Config> {
  const inv = parseInvocation(argv, env, hostname);
  if ('config' in inv) return inv.config;
  throw new UsageError('', 'help' in inv ? inv.help : globalUsage());
}

interface CommandArgs {
  /** The command's positional argument (NODE), when it takes one. */
  positional: string | undefined;
  /** doctor's flags as given, for `kubectl doctor` to pass on. */
  passOn: string[];
}

function buildConfig(
  command: Command,
  v: Values,
  env: Record<string, string | undefined>,
  hostname: string,
  problems: string[],
  args: CommandArgs,
): Readonly<Config> {
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
  const kubectlCommand = command.startsWith(`${GROUP} `);
  // kubectl reads every file of KUBECONFIG's list (kubectl commands do too); the agent and the controller take it as one file.
  const kubeconfig = str('kubeconfig') ?? (kubectlCommand ? undefined : env.KUBECONFIG || undefined);
  const kubeconfigSearch = env.KUBECONFIG ? env.KUBECONFIG.split(':').filter(Boolean) : env.HOME ? [`${env.HOME}/.kube/config`] : [];
  const context = str('context');
  const namespace = str('namespace');
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
    nodeName: args.positional ?? str('node-name') ?? env.NODE_NAME ?? hostname,
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
    kubeconfigSearch,
    ...(context ? { context } : {}),
    ...(namespace ? { namespace } : {}),
    agentSelector: str('selector') ?? DEFAULT_AGENT_SELECTOR,
    checkReady: v['check-ready'] === true,
    kubectl: str('kubectl') ?? 'kubectl',
    doctorArgs: command === 'kubectl doctor' ? args.passOn : [],
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
    const problem = labelKeyProblem(key);
    if (problem) return problem;
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

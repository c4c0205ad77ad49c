// Command-line flags and environment, parsed once into a frozen config.
// The only module that reads process.env or process.argv's shape.
import { z } from 'zod';
import { cidrListProblem } from './policy/cidr.js';

export const COMMANDS = ['doctor', 'plan', 'apply', 'restore', 'agent', 'controller'] as const;
export type Command = (typeof COMMANDS)[number];

const BACKENDS = ['auto', 'iptables-nft', 'iptables-legacy', 'nftables'] as const;

/** "30s", "5m", "1h" or plain seconds -> milliseconds. */
function parseInterval(text: string): number | null {
  const m = /^([0-9]+)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit]!;
}

const interval = z.string().transform((text, ctx) => {
  const ms = parseInterval(text);
  if (ms === null || ms < 1000) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not an interval of at least 1s (e.g. 30s, 5m)` });
    return z.NEVER;
  }
  return ms;
});

const listOfStrings = z.string().transform((text) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

// A malformed CIDR must not silently skip the Service/Pod overlap check.
const cidrList = listOfStrings.superRefine((cidrs, ctx) => {
  const problem = cidrListProblem(cidrs);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const labels = z.string().transform((text, ctx) => {
  const out: Record<string, string> = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(key)) {
      ctx.addIssue({ code: 'custom', message: `"${key}" is not a valid label key` });
      return z.NEVER;
    }
    out[key] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  return out;
});

const address = z.string().transform((text, ctx) => {
  const m = /^(.*):([0-9]{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `"${text}" is not host:port (e.g. 127.0.0.1:9753, :9753 for all addresses)` });
    return z.NEVER;
  }
  return { host: m[1] === '' ? '0.0.0.0' : m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
});

const FlagsSchema = z
  .object({
    'proc-root': z.string().min(1).default('/proc'),
    'sys-root': z.string().min(1).default('/sys'),
    'state-dir': z.string().min(1).default('/var/lib/conntrack-operator'),
    'node-labels': labels.optional(),
    'node-name': z.string().min(1).optional(),
    'notrack-backend': z.enum(BACKENDS).default('auto'),
    'service-cidr': cidrList.optional(),
    'pod-cidr': cidrList.optional(),
    'log-level': z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    json: z.boolean().default(false),
    top: z.coerce.number().int().min(1).max(1000).default(10),
    'no-table': z.boolean().default(false),
    policy: z.string().min(1).optional(),
    'policy-file': z.string().min(1).optional(),
    'status-file': z.string().min(1).optional(),
    'metrics-addr': address.prefault('127.0.0.1:9753'),
    interval: interval.prefault('30s'),
    'dry-run': z.boolean().default(false),
    once: z.boolean().default(false),
    kubernetes: z.boolean().default(false),
    'leader-elect': z.boolean().default(false),
    'lease-namespace': z.string().min(1).optional(),
  })
  .strict();

const BOOLEAN_FLAGS = new Set(['json', 'no-table', 'dry-run', 'once', 'kubernetes', 'leader-elect']);

export type Flags = z.output<typeof FlagsSchema>;

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
  logLevel: Flags['log-level'];
  json: boolean;
  top: number;
  noTable: boolean;
  /** plan/apply: --policy; agent: --policy-file. */
  policyFile?: string;
  statusFile?: string;
  metrics: { host: string; port: number };
  intervalMs: number;
  dryRun: boolean;
  once: boolean;
  /** agent: policies from the API, status and events to the API. */
  kubernetes: boolean;
  /** KUBECONFIG; absent: in-cluster service account. */
  kubeconfig?: string;
  leaderElect: boolean;
  /** Namespace of the controller's Lease (POD_NAMESPACE by default). */
  leaseNamespace: string;
  /** Identity in the Lease (POD_NAME, else the hostname). */
  identity: string;
}

export class UsageError extends Error {}

export const USAGE = `Usage: conntrack-operator <command> [flags]

Commands:
  doctor                       diagnose this host's conntrack table (read-only)
  plan    --policy FILE        show what a policy would change here; nothing is written
  apply   --policy FILE        make this host match the policy, once
  restore                      put back the values we changed and remove our NOTRACK rules
  agent   [--policy-file FILE] keep this host matching the policy; /metrics, /healthz, /readyz
          [--kubernetes]       ... with policies from the cluster, ConntrackStatus and Node events to it
  controller                   aggregate node statuses into ConntrackPolicy status (one per cluster)

Common flags:
  --proc-root DIR       /proc of the host (default /proc; /host/proc in a pod)
  --sys-root DIR        /sys of the host (default /sys)
  --state-dir DIR       where the baseline is kept (default /var/lib/conntrack-operator)
  --node-labels k=v,..  labels for nodeSelector matching outside Kubernetes
  --node-name NAME      this node's name (default: NODE_NAME, else the hostname)
  --notrack-backend B   auto | iptables-nft | iptables-legacy | nftables (default auto)
  --service-cidr C,..   Service CIDRs NOTRACK rules must not cover
  --pod-cidr C,..       Pod CIDRs NOTRACK rules must not cover
  --log-level L         fatal|error|warn|info|debug|trace|silent (default info)

doctor:  --json  --top N (default 10)  --no-table (skip reading the table)
plan:    --json
agent:   --status-file F  --metrics-addr HOST:PORT (default 127.0.0.1:9753)
         --interval 30s  --dry-run (never write, whatever the policy says)  --once
         --kubernetes (NODE_NAME names the node; KUBECONFIG or the in-cluster service account)
controller: --leader-elect  --lease-namespace NS (default POD_NAMESPACE)  --metrics-addr

Exit codes: 0 ok; 1 error or bad input; doctor: 2 when a finding is critical.`;

function splitArgv(argv: string[]): { command: string | undefined; flags: Record<string, unknown> } {
  const [command, ...rest] = argv;
  const flags: Record<string, unknown> = {};
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    if (!(name in FlagsSchema.shape)) throw new UsageError(`--${name}: unknown flag`);
    if (BOOLEAN_FLAGS.has(name)) {
      flags[name] = eq < 0 ? true : arg.slice(eq + 1) !== 'false';
    } else if (eq >= 0) {
      flags[name] = arg.slice(eq + 1);
    } else {
      const value = rest[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    }
  }
  return { command, flags };
}

/** Parse argv (without node and script) and the environment. Throws UsageError naming the flag. */
export function loadConfig(argv: string[], env: Record<string, string | undefined>, hostname: string): Readonly<Config> {
  const { command, flags } = splitArgv(argv);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') throw new UsageError('');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command "${command}"`);
  const parsed = FlagsSchema.safeParse(flags);
  if (!parsed.success) {
    const messages = parsed.error.issues.map((issue) => {
      const flag = issue.path.length ? `--${String(issue.path[0])}` : '';
      return `${flag}: ${issue.message}`;
    });
    throw new UsageError(messages.join('\n'));
  }
  const f = parsed.data;
  const cmd = command as Command;
  const policyFile = cmd === 'agent' ? f['policy-file'] ?? f.policy : f.policy ?? f['policy-file'];
  if ((cmd === 'plan' || cmd === 'apply') && !policyFile) throw new UsageError(`--policy: ${cmd} needs a policy file`);
  if (cmd === 'agent' && f.kubernetes && policyFile) throw new UsageError('--policy-file: with --kubernetes the policies come from the cluster');
  if (cmd === 'agent' && f.kubernetes && f.once) throw new UsageError('--once: with --kubernetes the agent must watch the cluster; run it as a daemon');
  return Object.freeze({
    command: cmd,
    procRoot: f['proc-root'],
    sysRoot: f['sys-root'],
    stateDir: f['state-dir'],
    // In a pod NODE_NAME comes from the downward API; on a plain host the hostname names it.
    nodeName: f['node-name'] ?? env.NODE_NAME ?? hostname,
    nodeLabels: f['node-labels'] ?? {},
    notrackBackend: f['notrack-backend'],
    serviceCidrs: f['service-cidr'] ?? [],
    podCidrs: f['pod-cidr'] ?? [],
    logLevel: f['log-level'],
    json: f.json,
    top: f.top,
    noTable: f['no-table'],
    ...(policyFile ? { policyFile } : {}),
    ...(f['status-file'] ? { statusFile: f['status-file'] } : {}),
    metrics: f['metrics-addr'],
    intervalMs: f.interval,
    dryRun: f['dry-run'],
    once: f.once,
    kubernetes: f.kubernetes,
    ...(env.KUBECONFIG ? { kubeconfig: env.KUBECONFIG } : {}),
    leaderElect: f['leader-elect'],
    leaseNamespace: f['lease-namespace'] ?? env.POD_NAMESPACE ?? 'default',
    identity: env.POD_NAME ?? hostname,
  });
}

// Reusable helpers for root-only tests and benchmarks against the real kernel:
// a throw-away network namespace with conntrack switched on, commands run
// inside it, and bounded loopback traffic (test/support/traffic.ts) to fill
// its table with a known mix. Nothing here touches a global key.
//
//   const skip = realKernelSkipReason();           // string when not root / tool missing
//   await withNetns('summary', async (ns) => {
//     await setNetnsSysctl(ns, 'nf_conntrack_udp_timeout', 300);
//     await makeUdpFlows(ns, 50);
//     await makeTimeWait(ns, 20);
//     const held = await holdEstablished(ns, 2); try { ... } finally { await held.close(); }
//     const out = await execIn(ns, 'conntrack', ['-L']);
//   });
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RealCommandRunner, type ChunkStream, type CommandResult, type CommandRunner, type RunOptions } from '../../src/kernel/command-runner.js';

const TRAFFIC_SCRIPT = fileURLToPath(new URL('./traffic.ts', import.meta.url));
const TSX_LOADER = ['--import', 'tsx'];
const runner = new RealCommandRunner();

/** Why the real-kernel tests cannot run here, or undefined when they can. */
export function realKernelSkipReason(tools: string[] = ['ip', 'nft', 'conntrack']): string | undefined {
  if (process.geteuid?.() !== 0) return 'needs root (network namespaces, conntrack netlink)';
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  return missing.length ? `missing tool(s): ${missing.join(', ')}` : undefined;
}

/** Run a command inside the namespace; resolves with its result whatever the exit code. */
export function execIn(ns: string, cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
  return runner.run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/** Like execIn, but a non-zero exit is an error naming the command and its stderr. */
export async function execInOk(ns: string, cmd: string, args: string[], opts?: RunOptions): Promise<string> {
  const r = await execIn(ns, cmd, args, opts);
  if (r.code !== 0) throw new Error(`in ${ns}: ${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A CommandRunner whose every command runs inside the namespace (what the code under test calls). */
export function netnsRunner(ns: string): CommandRunner {
  return {
    run: (cmd: string, args: string[], opts?: RunOptions) => execIn(ns, cmd, args, opts),
    streamChunks: (cmd: string, args: string[]): ChunkStream => runner.streamChunks('ip', ['netns', 'exec', ns, cmd, ...args]),
  };
}

async function ipOk(args: string[]): Promise<void> {
  const r = await runner.run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
}

/**
 * Create `ctop-<tag>-<pid>`, bring lo up, switch conntrack on (on this kernel
 * the hooks are only active once a rule uses conntrack), run fn, and delete the
 * namespace whatever happens.
 */
export async function withNetns<T>(tag: string, fn: (ns: string) => Promise<T>): Promise<T> {
  const ns = `ctop-${tag}-${process.pid}`;
  await ipOk(['netns', 'add', ns]);
  try {
    await execInOk(ns, 'ip', ['link', 'set', 'lo', 'up']);
    await execInOk(ns, 'nft', ['-f', '-'], {
      input: 'table inet ctop_test {\n chain out {\n type filter hook output priority 0;\n ct state new counter\n }\n}\n',
    });
    return await fn(ns);
  } finally {
    await ipOk(['netns', 'del', ns]);
  }
}

/** Set a per-namespace conntrack sysctl (timeouts), e.g. nf_conntrack_udp_timeout. Never a global key. */
export async function setNetnsSysctl(ns: string, key: string, value: number): Promise<void> {
  if (key === 'nf_conntrack_max' || key === 'nf_conntrack_buckets') throw new Error(`${key} is global: tests must not set it here`);
  await execInOk(ns, 'sysctl', ['-q', '-w', `net.netfilter.${key}=${value}`]);
}

/** Run a traffic.ts mode in the namespace and return its JSON result line. */
async function traffic(ns: string, args: string[], timeoutMs: number): Promise<Record<string, unknown>> {
  const out = await execInOk(ns, process.execPath, [...TSX_LOADER, TRAFFIC_SCRIPT, ...args], { timeoutMs });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

/** n bare UDP sends to distinct 127.x.y.z addresses: n UNREPLIED udp entries. */
export function makeUdpFlows(ns: string, n: number, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  return traffic(ns, ['udp', String(n)], timeoutMs);
}

/** n UDP request/answer pairs with 127.0.0.1 (replied udp entries), or with ::1 when ipv6. */
export function makeUdpEcho(ns: string, n: number, ipv6 = false): Promise<Record<string, unknown>> {
  return traffic(ns, [ipv6 ? 'udp6' : 'udp-echo', String(n)], 60_000);
}

/** n completed TCP connections to 127.0.0.0/8 (or ::1): n entries in TIME_WAIT. */
export function makeTimeWait(ns: string, n: number, ipv6 = false): Promise<Record<string, unknown>> {
  return traffic(ns, [ipv6 ? 'tcp6-timewait' : 'tcp-timewait', String(n)], 60_000);
}

/** A traffic.ts mode that holds what it opened until close(): started once it says "ready" (with what follows on that line). */
export interface HeldTraffic {
  /** What followed "ready" on its line (serve: the port). */
  ready: string;
  /** Let go (stdin closed) and wait for its result line. */
  close: () => Promise<Record<string, unknown>>;
}

/**
 * Start a traffic.ts mode in the namespace; resolves at its first line: "ready"
 * (hold), {"port":N} (serve-tcp, serve-udp: ready is the port) or
 * {"startedAtMs":N} (tcp-ramp, tcp-burst, udp-ramp: the first flow is out).
 */
export async function holdTraffic(ns: string, args: string[]): Promise<HeldTraffic> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...TSX_LOADER, TRAFFIC_SCRIPT, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let last = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const ready = await new Promise<string | null>((resolve) => {
    lines.on('line', (l) => {
      last = l;
      if (l === 'ready') resolve('');
      else if (l.startsWith('{')) resolve(String((JSON.parse(l) as { port?: number }).port ?? ''));
    });
    child.on('close', () => resolve(null));
  });
  if (ready === null) throw new Error(`${args.join(' ')} in ${ns}: traffic script exited before ready`);
  return {
    ready,
    close: async () => {
      child.stdin.end();
      await exited;
      return JSON.parse(last || '{}') as Record<string, unknown>;
    },
  };
}

/** n open TCP connections (ESTABLISHED entries) until close() or maxSeconds. */
export async function holdEstablished(ns: string, n: number, maxSeconds = 60): Promise<{ close: () => Promise<void> }> {
  const held = await holdTraffic(ns, ['hold', String(n), String(maxSeconds)]);
  return { close: async () => void (await held.close()) };
}

// Runs inside the namespace: a server on each port, `count` sequential
// connections to each, all on 127.0.0.1; bounded by count and the timeout.
const CONNECT_SCRIPT = `
const net = require('node:net');
const [count, ...ports] = process.argv.slice(1).map(Number);
const listen = (p) => new Promise((ok, fail) => { const s = net.createServer((c) => c.end()); s.on('error', fail); s.listen(p, '127.0.0.1', () => ok(s)); });
const connect = (p) => new Promise((ok, fail) => { const c = net.connect(p, '127.0.0.1'); c.on('error', fail); c.on('close', ok); c.resume(); });
(async () => {
  const servers = await Promise.all(ports.map(listen));
  for (const p of ports) for (let i = 0; i < count; i++) await connect(p);
  servers.forEach((s) => s.close());
})().catch((e) => { console.error(e); process.exit(1); });
`;

/** `count` completed TCP connections to each of `ports` on 127.0.0.1 inside the namespace. */
export async function connectTimes(ns: string, count: number, ports: number[]): Promise<void> {
  await execInOk(ns, process.execPath, ['-e', CONNECT_SCRIPT, String(count), ...ports.map(String)], { timeoutMs: 15_000 });
}

/** Conntrack entries in the namespace whose original destination port is `port`. */
export async function trackedTo(ns: string, port: number): Promise<number> {
  const out = await execInOk(ns, 'conntrack', ['-L', '-p', 'tcp']);
  return out.split('\n').filter((l) => /dport=(\d+)/.exec(l)?.[1] === String(port)).length;
}

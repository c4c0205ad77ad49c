// A throwaway network namespace for root-only NOTRACK tests, and a
// CommandRunner that runs every tool inside it (ip netns exec).
import { execFileSync } from 'node:child_process';
import type { CommandRunner, CommandResult, ChunkStream, RunOptions } from '../../src/kernel/command-runner.js';
import { RealCommandRunner } from '../../src/kernel/command-runner.js';

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export class NetnsRunner implements CommandRunner {
  private readonly real = new RealCommandRunner();
  constructor(readonly netns: string) {}

  run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    return this.real.run('ip', ['netns', 'exec', this.netns, cmd, ...args], opts);
  }

  streamChunks(cmd: string, args: string[]): ChunkStream {
    return this.real.streamChunks('ip', ['netns', 'exec', this.netns, cmd, ...args]);
  }
}

/** Creates ctop-<tag>-<pid> with lo up; the caller deletes it in a finally. */
export function createNetns(tag: string): { name: string; sh: (script: string) => string; destroy: () => void } {
  const name = `ctop-${tag}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  const sh = (script: string): string =>
    execFileSync('ip', ['netns', 'exec', name, 'sh', '-ec', script], { encoding: 'utf8', timeout: 20_000 });
  sh('ip link set lo up');
  return { name, sh, destroy: () => execFileSync('ip', ['netns', 'delete', name]) };
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

export function connectTimes(netns: string, count: number, ports: number[]): void {
  execFileSync('ip', ['netns', 'exec', netns, process.execPath, '-e', CONNECT_SCRIPT, String(count), ...ports.map(String)], {
    timeout: 15_000,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Conntrack entries in the namespace whose original destination port is `port`. */
export function trackedTo(netns: string, port: number): number {
  const out = execFileSync('ip', ['netns', 'exec', netns, 'conntrack', '-L', '-p', 'tcp'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => /dport=(\d+)/.exec(l)?.[1] === String(port)).length;
}

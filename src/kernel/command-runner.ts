// The seam for the external tools we call (conntrack, iptables-save,
// iptables-restore, nft). A missing binary rejects with code ENOENT, as
// spawn does; a non-zero exit resolves with the code, so callers decide.
import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs?: number;
}

export interface ChunkStream {
  /** stdout as it comes, in chunks (not split into lines: the reader parses chunks itself, faster). */
  chunks: AsyncIterable<Buffer>;
  /** Settles after the process exits; rejects on spawn failure (ENOENT). */
  done: Promise<{ code: number; stderr: string }>;
}

export interface CommandRunner {
  run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult>;
  /** Stream stdout without buffering it whole (conntrack -L on a huge table). */
  streamChunks(cmd: string, args: string[]): ChunkStream;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class RealCommandRunner implements CommandRunner {
  run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => err.push(b));
      child.on('error', reject);
      child.on('close', (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8') + (signal ? `killed by ${signal}` : ''),
        }),
      );
      child.stdin.on('error', () => undefined); // the child may exit before reading its input
      child.stdin.end(opts.input ?? '');
    });
  }

  streamChunks(cmd: string, args: string[]): ChunkStream {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const done = new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code: code ?? 1, stderr: Buffer.concat(err).toString('utf8') }));
    });
    done.catch(() => undefined); // observed by the caller; avoid an unhandled rejection meanwhile
    return { chunks: child.stdout, done };
  }
}

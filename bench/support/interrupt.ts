// Ctrl-C (SIGINT) or SIGTERM during a bench that changes the host: the run in
// progress stops and unwinds through its finally blocks (processes ended,
// namespaces deleted, the global table restored) instead of the process
// dying with them changed. A second signal only says it is still cleaning up.
import type { ChildProcess } from 'node:child_process';

export class Interrupt {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  private readonly children = new Set<ChildProcess>();

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => this.stop(sig));
  }

  private stop(sig: string): void {
    if (this.signal.aborted) return void process.stderr.write(`${sig}: still cleaning up, please wait\n`);
    process.stderr.write(`${sig}: stopping the run and cleaning up\n`);
    this.controller.abort(new Error(`interrupted by ${sig}`));
    for (const child of this.children) child.kill('SIGTERM');
  }

  /** Ends `child` (SIGTERM) if the bench is interrupted while it runs. */
  track<T extends ChildProcess>(child: T): T {
    this.children.add(child);
    child.once('close', () => this.children.delete(child));
    if (this.signal.aborted) child.kill('SIGTERM');
    return child;
  }

  /** Throws once interrupted: call between steps. */
  check(): void {
    this.signal.throwIfAborted();
  }

  /** Waits `ms`, or rejects at once when interrupted. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(this.signal.reason as Error);
      const timer = setTimeout(() => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.signal.reason as Error);
      };
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Polls `fn` every 100 ms until it returns something (an error it throws ends the wait), fails after `ms` naming `what`, or stops when interrupted. */
  async until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
      await this.sleep(100);
    }
  }
}

// Turns the kernel log's "table full" lines into a flag the agent takes once
// per pass, keeping only lines about our own network namespace (a pod's full
// table is that pod's story, not the node's: the namespace census reports it),
// and into an immediate pass for any namespace's line.
import { uptime as osUptime } from 'node:os';
import { KmsgWatcher, type TableFullSignal } from '../kernel/kmsg.js';
import type { Host } from '../kernel/host.js';

export class TableFullLog {
  private seen = false;
  private watcher: KmsgWatcher | null = null;

  constructor(
    private readonly netnsInode: () => number | null,
    /** Called on each line about our namespace, so the agent reports it without waiting for its interval. */
    private readonly onFull: () => void = () => undefined,
  ) {}

  /** Start watching; rejects when the log cannot be opened (no CAP_SYSLOG, no /dev/kmsg). */
  async start(host: Pick<Host, 'files' | 'paths'>, kmsgPath: string): Promise<void> {
    // Seconds since boot, to skip the log's history. The host's /proc when we have it; the kernel is the same either way.
    const uptime = await host.files.read(host.paths.proc('uptime')).then(
      (t) => Number(t.split(' ')[0]),
      () => osUptime(),
    );
    this.watcher = new KmsgWatcher(kmsgPath, Math.floor(uptime * 1e6), (s) => this.onSignal(s));
    await this.watcher.start();
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
  }

  /** Whether a "table full" line for our namespace came since the last call. */
  take(): boolean {
    const seen = this.seen;
    this.seen = false;
    return seen;
  }

  /**
   * One "table full" line. Ours sets the flag; any namespace's starts a pass
   * now: another namespace's full table is then found by the census's drop
   * counters within seconds instead of at the next interval.
   */
  onSignal(s: TableFullSignal): void {
    const ours = this.netnsInode();
    // Old kernels do not name the namespace: then every line counts.
    if (s.netnsInode === null || ours === null || s.netnsInode === ours) this.seen = true;
    this.onFull();
  }
}

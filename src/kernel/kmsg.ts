// Watches the kernel log (/dev/kmsg) for "nf_conntrack: table full, dropping
// packet". Current kernels name the network namespace by inode ("table full in
// netns 4026532177"), so the host's table can be told from a pod's.
// Polled non-blocking: a blocking read would pin a libuv thread until the
// kernel logs something, and could not be cancelled on shutdown.
import { constants, open, type FileHandle } from 'node:fs/promises';
import { errnoCode } from '../errors.js';

export interface KmsgRecord {
  seq: number;
  /** Microseconds since boot. */
  timestampUs: number;
  message: string;
}

export interface TableFullSignal {
  /** Namespace inode the kernel named, or null on kernels that do not name it. */
  netnsInode: number | null;
  timestampUs: number;
}

/** One /dev/kmsg record: "pri,seq,timestamp_us,flags[,...];message\n[ continuation lines]". */
export function parseKmsgRecord(text: string): KmsgRecord | null {
  const semi = text.indexOf(';');
  if (semi < 0) return null;
  const [, seq, ts] = text.slice(0, semi).split(',');
  const message = text.slice(semi + 1).split('\n')[0] ?? '';
  if (seq === undefined || ts === undefined) return null;
  return { seq: Number(seq), timestampUs: Number(ts), message };
}

const TABLE_FULL = /nf_conntrack: (?:nf_conntrack: )?table full(?: in netns (\d+))?, dropping packet/;

export function parseTableFull(record: KmsgRecord): TableFullSignal | null {
  const m = TABLE_FULL.exec(record.message);
  return m ? { netnsInode: m[1] ? Number(m[1]) : null, timestampUs: record.timestampUs } : null;
}

export class KmsgWatcher {
  private handle: FileHandle | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly buffer = Buffer.alloc(8192);
  private draining = false;

  /**
   * @param sinceUs records older than this (µs since boot) are history and ignored.
   * @param onSignal called for each "table full" line.
   */
  constructor(
    private readonly path: string,
    private readonly sinceUs: number,
    private readonly onSignal: (s: TableFullSignal) => void,
    private readonly pollMs = 1000,
  ) {}

  /** Opens the log; rejects (EACCES/EPERM without CAP_SYSLOG, ENOENT) so the caller can report it. */
  async start(): Promise<void> {
    this.handle = await open(this.path, constants.O_RDONLY | constants.O_NONBLOCK);
    await this.drain();
    this.timer = setInterval(() => {
      if (this.draining) return; // the last drain is still reading
      this.draining = true;
      this.drain()
        .catch(() => undefined) // a closed handle on stop, or a log that went away: the next tick tries again
        .finally(() => (this.draining = false));
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const h = this.handle;
    this.handle = null;
    await h?.close();
  }

  /** Read every record available now. */
  async drain(): Promise<void> {
    for (;;) {
      const h = this.handle;
      if (!h) return;
      let n: number;
      try {
        ({ bytesRead: n } = await h.read(this.buffer, 0, this.buffer.length, null));
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EPIPE') continue; // records were overwritten before we read them; go on with the next
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return;
        throw err;
      }
      if (n === 0) return;
      const record = parseKmsgRecord(this.buffer.toString('utf8', 0, n));
      if (!record || record.timestampUs < this.sinceUs) continue;
      const signal = parseTableFull(record);
      if (signal) this.onSignal(signal);
    }
  }
}

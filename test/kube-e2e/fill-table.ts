// Fills this namespace's conntrack table with ASSURED entries: completed TCP
// connections to 127.0.0.2 (127.0.0.1 carries the untracked control plane) left
// in TIME_WAIT (raise the TIME_WAIT timeout first). Stops after `max`
// connections, once the namespace's own drop counter has risen by 10 (the
// table is full: the kernel drops SYNs it cannot track), or after 30 s.
// A connection that fails is only a hint: on a loaded machine one can take
// longer than the 200 ms given to it with the table far from full, so the
// kernel's counter, read after each failure, decides.
// Prints one JSON line: attempts, completed, failed, and the namespace's
// `dropped` (drop counter risen during the fill) and `entries` at the end.
import { connect, createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { parseStatFile } from '../../src/kernel/stats.js';

/** The JSON line this prints. */
export interface FillResult {
  attempts: number;
  completed: number;
  failed: number;
  /** How far the namespace's drop counter rose during the fill: 10 or more when the table filled. */
  dropped: number;
  /** The namespace's entry count at the end (null where the stat file does not print it). */
  entries: number | null;
}

const max = Number(process.argv[2] ?? '5000');
const DROPS_WHEN_FULL = 10;
const deadline = Date.now() + 30_000;

async function stat(): Promise<{ drop: number; entries: number | null }> {
  const { counters, entries } = parseStatFile(await readFile('/proc/self/net/stat/nf_conntrack', 'utf8'));
  return { drop: counters?.drop ?? 0, entries };
}

const server = createServer((c) => c.end());
await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
const port = (server.address() as { port: number }).port;

function once(): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ port, host: '127.0.0.2' });
    const timer = setTimeout(() => (c.destroy(), resolve(false)), 200);
    c.on('connect', () => c.end());
    c.on('close', (hadError) => (clearTimeout(timer), resolve(!hadError)));
    c.on('error', () => undefined);
  });
}

const before = await stat();
let dropped = 0;
let ok = 0;
let failed = 0;
let attempts = 0;
while (attempts < max && dropped < DROPS_WHEN_FULL && Date.now() < deadline) {
  attempts++;
  if (await once()) ok++;
  else {
    failed++;
    dropped = (await stat()).drop - before.drop;
  }
}
server.close();
const after = await stat();
const result: FillResult = { attempts, completed: ok, failed, dropped: after.drop - before.drop, entries: after.entries };
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);

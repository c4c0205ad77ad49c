// Fills this namespace's conntrack table with ASSURED entries: completed TCP
// connections to 127.0.0.2 (127.0.0.1 carries the untracked control plane) left
// in TIME_WAIT (raise the TIME_WAIT timeout first). Stops after `max`
// connections, after 10 connections failed (the table is full: SYNs are
// dropped; the kernel still early-drops some TIME_WAIT entries to make room, so
// failures are spread out), or after 30 s.
// Prints one JSON line.
import { connect, createServer } from 'node:net';

const max = Number(process.argv[2] ?? '5000');
const deadline = Date.now() + 30_000;
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

let ok = 0;
let failed = 0;
let attempts = 0;
while (attempts < max && failed < 10 && Date.now() < deadline) {
  attempts++;
  if (await once()) ok++;
  else failed++;
}
server.close();
process.stdout.write(`${JSON.stringify({ attempts, completed: ok, failed })}\n`);
process.exit(0);

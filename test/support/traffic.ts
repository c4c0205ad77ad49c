// Bounded loopback traffic, run INSIDE a test network namespace by
// test/support/netns.ts (`ip netns exec <ns> node --import tsx traffic.ts ...`).
// Every mode is bounded in count (argv) and in time (DEADLINE_MS); it prints
// one JSON line with what it did, or "ready" for `hold` once connections are up.
//
//   udp <count> [port]      one socket, <count> datagrams to distinct 127.x.y.z
//                           (no listener: each is an UNREPLIED entry)
//   udp-echo <count>        <count> client sockets to an echo server on
//                           127.0.0.1 (replied UDP entries)
//   udp6 <count>            <count> client sockets to ::1 (IPv6 UDP entries)
//   tcp-timewait <count>    completed TCP connections to distinct 127.0.x.y
//                           (entries left in TIME_WAIT)
//   tcp6-timewait <count>   the same over ::1
//   hold <count> <seconds>  <count> open TCP connections (ESTABLISHED), kept
//                           until stdin closes or <seconds> pass
//   serve <seconds>         a TCP server on 127.0.0.1 that keeps every
//                           connection open ("ready <port>"), until stdin
//                           closes or <seconds> pass
//   ramp <port> <perSecond> <count> <seconds>
//                           <count> connections to 127.0.0.1:<port>, opened
//                           at <perSecond> and kept open ("ready" when the
//                           first goes out), until stdin closes or <seconds>
//   burst <port> <count> <seconds>
//                           the same, all at once
// A connection takes a descriptor at each end: serve and ramp/burst run as
// two processes, so each stays within a per-process limit of 20,000.
import { createSocket } from 'node:dgram';
import { createServer, connect, type Socket } from 'node:net';

const DEADLINE_MS = 120_000;
const MAX_COUNT = 300_000;
const deadline = Date.now() + DEADLINE_MS;

function bounded(raw: string | undefined, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > MAX_COUNT) throw new Error(`${what}: want an integer 0..${MAX_COUNT}, got ${raw}`);
  return n;
}

function checkDeadline(): void {
  if (Date.now() > deadline) throw new Error(`traffic: deadline of ${DEADLINE_MS} ms passed`);
}

/** 127.a.b.c for index i, skipping .0 and .255 in the last octet; distinct for i < 250*256*256. */
function loopbackAddress(i: number, base = 1): string {
  const c = (i % 250) + 1;
  const rest = Math.floor(i / 250);
  return `127.${base + Math.floor(rest / 256)}.${rest % 256}.${c}`;
}

async function udp(count: number, port: number): Promise<object> {
  const sock = createSocket('udp4');
  const payload = Buffer.from('x');
  const BATCH = 512;
  for (let i = 0; i < count; i += BATCH) {
    checkDeadline();
    const sends: Promise<void>[] = [];
    for (let j = i; j < Math.min(count, i + BATCH); j++) {
      sends.push(new Promise((resolve) => sock.send(payload, port, loopbackAddress(j), () => resolve())));
    }
    await Promise.all(sends);
  }
  sock.close();
  return { mode: 'udp', sent: count };
}

async function udpEcho(count: number, family: 'udp4' | 'udp6'): Promise<object> {
  const host = family === 'udp4' ? '127.0.0.1' : '::1';
  const server = createSocket(family);
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => server.bind(0, host, () => resolve()));
  const port = server.address().port;
  let answered = 0;
  for (let i = 0; i < count; i++) {
    checkDeadline();
    const client = createSocket(family);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      client.once('message', () => {
        answered++;
        clearTimeout(timer);
        resolve();
      });
      client.send('ping', port, host);
    });
    client.close();
  }
  server.close();
  return { mode: family === 'udp4' ? 'udp-echo' : 'udp6', sent: count, answered };
}

async function listen(host: string, onConn: (s: Socket) => void): Promise<{ port: number; close: () => void }> {
  const server = createServer(onConn);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('no server address');
  return { port: addr.port, close: () => server.close() };
}

function connectOnce(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => resolve(s));
    s.once('error', reject);
  });
}

async function tcpTimeWait(count: number, v6: boolean): Promise<object> {
  // The server closes first; both FINs and the last ACK leave the entry in TIME_WAIT.
  const server = await listen(v6 ? '::' : '0.0.0.0', (s) => s.end());
  const CONCURRENCY = 32;
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      checkDeadline();
      const i = next++;
      const s = await connectOnce(v6 ? '::1' : loopbackAddress(i, 2), server.port);
      await new Promise<void>((resolve) => {
        s.on('end', () => s.end());
        s.on('close', () => resolve());
        s.resume();
      });
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, count) }, worker));
  server.close();
  return { mode: v6 ? 'tcp6-timewait' : 'tcp-timewait', completed: done };
}

async function hold(count: number, seconds: number): Promise<object> {
  const accepted: Socket[] = [];
  const server = await listen('127.0.0.1', (s) => accepted.push(s));
  const clients: Socket[] = [];
  for (let i = 0; i < count; i++) clients.push(await connectOnce('127.0.0.1', server.port));
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.min(seconds * 1000, DEADLINE_MS));
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    process.stdin.resume();
  });
  for (const s of [...clients, ...accepted]) s.destroy();
  server.close();
  return { mode: 'hold', held: count };
}

/** Resolves when stdin closes or `seconds` pass, whichever is first. */
function heldUntilStdinEnds(seconds: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.min(seconds * 1000, DEADLINE_MS));
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    process.stdin.resume();
  });
}

async function serve(seconds: number): Promise<object> {
  const accepted: Socket[] = [];
  const server = await listen('127.0.0.1', (s) => (s.on('error', () => undefined), accepted.push(s)));
  process.stdout.write(`ready ${server.port}\n`);
  await heldUntilStdinEnds(seconds);
  for (const s of accepted) s.destroy();
  server.close();
  return { mode: 'serve', accepted: accepted.length };
}

/** `count` connections to 127.0.0.1:port, `perSecond` a second (Infinity: at once), kept open until stdin ends or `seconds` pass. */
async function connectAtRate(port: number, perSecond: number, count: number, seconds: number): Promise<object> {
  const clients: Socket[] = [];
  let opened = 0;
  let failed = 0;
  const open = (): void => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => opened++);
    s.once('error', () => failed++);
    clients.push(s);
  };
  const started = Date.now();
  process.stdout.write('ready\n');
  const held = heldUntilStdinEnds(seconds);
  let stopped = false;
  void held.then(() => (stopped = true));
  // In 10 ms steps: as many as the rate says should be open by now (a late timer catches up).
  while (!stopped && clients.length < count && Date.now() < deadline) {
    const due = Math.min(count, Number.isFinite(perSecond) ? Math.floor(((Date.now() - started) * perSecond) / 1000) + 1 : count);
    while (clients.length < due) open();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await held;
  for (const s of clients) s.destroy();
  return { opened, failed, attempted: clients.length, seconds: (Date.now() - started) / 1000 };
}

async function main(argv: string[]): Promise<object> {
  const [mode, a, b, c, d] = argv;
  switch (mode) {
    case 'udp':
      return udp(bounded(a, 'count'), b === undefined ? 9 : bounded(b, 'port'));
    case 'udp-echo':
      return udpEcho(bounded(a, 'count'), 'udp4');
    case 'udp6':
      return udpEcho(bounded(a, 'count'), 'udp6');
    case 'tcp-timewait':
      return tcpTimeWait(bounded(a, 'count'), false);
    case 'tcp6-timewait':
      return tcpTimeWait(bounded(a, 'count'), true);
    case 'hold':
      return hold(bounded(a, 'count'), bounded(b, 'seconds'));
    case 'serve':
      return serve(bounded(a, 'seconds'));
    case 'ramp':
      return { mode, ...(await connectAtRate(bounded(a, 'port'), bounded(b, 'perSecond'), bounded(c, 'count'), bounded(d, 'seconds'))) };
    case 'burst':
      return { mode, ...(await connectAtRate(bounded(a, 'port'), Infinity, bounded(b, 'count'), bounded(c, 'seconds'))) };
    default:
      throw new Error(`traffic: unknown mode ${mode}`);
  }
}

main(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);

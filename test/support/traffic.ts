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
//
// A surge (bench/surge.bench.ts): a server process and a client process, so
// that neither holds more than one socket per connection (the open-files limit).
//   serve-tcp <seconds>     a TCP server on 127.0.0.1 keeping every connection
//                           open; prints {"port":N}, holds until stdin closes
//                           or <seconds> pass
//   serve-udp <seconds>     a UDP echo server on 127.0.0.1, the same way
//   tcp-ramp <port> <rate> <seconds> <grace>
//                           <rate> new connections per second to the server,
//                           held open; then <grace> seconds for late ones (SYN
//                           retransmits at 1 s, 3 s, 7 s); prints {"startedAtMs"}
//                           at the first connect, then the outcome
//   tcp-burst <port> <count> <grace>
//                           <count> connections started within 1 s, the same way
//   udp-ramp <port> <rate> <seconds>
//                           <rate> new UDP flows per second (a socket each, one
//                           datagram, its answer awaited 1 s)
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
  await heldFor(seconds);
  for (const s of [...clients, ...accepted]) s.destroy();
  server.close();
  return { mode: 'hold', held: count };
}

/** Runs until stdin closes (the parent is done) or `seconds` pass. */
function heldFor(seconds: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, Math.min(seconds * 1000, DEADLINE_MS));
    process.stdin.on('end', () => {
      clearTimeout(timer);
      resolve();
    });
    process.stdin.resume();
  });
}

async function serveTcp(seconds: number): Promise<object> {
  const accepted: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    accepted.push(s);
  });
  // A burst must not wait on the accept queue: the kernel caps the backlog at net.core.somaxconn.
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 65535 }, resolve));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  await heldFor(seconds);
  for (const s of accepted) s.destroy();
  server.close();
  return { mode: 'serve-tcp', accepted: accepted.length };
}

async function serveUdp(seconds: number): Promise<object> {
  const server = createSocket('udp4');
  let answered = 0;
  server.on('message', (msg, rinfo) => server.send(msg, rinfo.port, rinfo.address, () => answered++));
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', () => resolve()));
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  await heldFor(seconds);
  server.close();
  return { mode: 'serve-udp', answered };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `count` flows, `rate` per second, each through `open` (which resolves with the ms it took, or null: failed); returns once all are started. */
async function paced(
  count: number,
  rate: number,
  open: () => Promise<number | null>,
): Promise<{ startedAtMs: number; startSpanMs: number; outcomes: Array<Promise<number | null>> }> {
  const startedAtMs = Date.now();
  process.stdout.write(`${JSON.stringify({ startedAtMs })}\n`);
  const outcomes: Array<Promise<number | null>> = [];
  while (outcomes.length < count) {
    checkDeadline();
    const due = Math.min(count, Math.floor(((Date.now() - startedAtMs) * rate) / 1000) + 1);
    while (outcomes.length < due) outcomes.push(open());
    await sleep(5);
  }
  return { startedAtMs, startSpanMs: Date.now() - startedAtMs, outcomes };
}

/** What a paced run did: how long starting every flow took (a loaded machine starts a burst late), and each flow's outcome. */
function outcome(mode: string, startedAtMs: number, startSpanMs: number, ms: Array<number | null>): object {
  const ok = ms.filter((m): m is number => m !== null).sort((x, y) => x - y);
  const at = (q: number) => (ok.length ? ok[Math.min(ok.length - 1, Math.floor(q * ok.length))] : null);
  return {
    mode,
    startedAtMs,
    startSpanMs,
    attempted: ms.length,
    established: ok.length,
    failed: ms.length - ok.length,
    // At least one retransmit: the first SYN (or datagram) was lost.
    late: ok.filter((m) => m >= 900).length,
    ms: { p50: at(0.5), p99: at(0.99), max: ok.at(-1) ?? null },
  };
}

/** Held-open connections to 127.0.0.1:port, `rate` per second; every one still pending `grace` seconds after the last start counts as failed. */
async function tcpSurge(mode: string, port: number, count: number, rate: number, grace: number): Promise<object> {
  const sockets: Socket[] = [];
  let giveUp: () => void = () => undefined;
  const givenUp = new Promise<void>((resolve) => (giveUp = resolve));
  const open = () =>
    new Promise<number | null>((resolve) => {
      const t = Date.now();
      const s = connect({ host: '127.0.0.1', port });
      sockets.push(s);
      s.on('error', () => resolve(null));
      s.once('connect', () => resolve(Date.now() - t));
      void givenUp.then(() => resolve(null));
    });
  const { startedAtMs, startSpanMs, outcomes } = await paced(count, rate, open);
  const timer = setTimeout(giveUp, grace * 1000);
  const ms = await Promise.all(outcomes);
  clearTimeout(timer);
  for (const s of sockets) s.destroy();
  return outcome(mode, startedAtMs, startSpanMs, ms);
}

async function udpRamp(port: number, count: number, rate: number): Promise<object> {
  const open = () =>
    new Promise<number | null>((resolve) => {
      const t = Date.now();
      const sock = createSocket('udp4');
      let settled = false;
      const done = (ms: number | null) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.close();
        resolve(ms);
      };
      const timer = setTimeout(() => done(null), 1000);
      sock.once('message', () => done(Date.now() - t));
      sock.once('error', () => done(null));
      sock.send('x', port, '127.0.0.1');
    });
  const { startedAtMs, startSpanMs, outcomes } = await paced(count, rate, open);
  return outcome('udp-ramp', startedAtMs, startSpanMs, await Promise.all(outcomes));
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
    case 'serve-tcp':
      return serveTcp(bounded(a, 'seconds'));
    case 'serve-udp':
      return serveUdp(bounded(a, 'seconds'));
    case 'tcp-ramp': {
      const [rate, seconds] = [bounded(b, 'rate'), bounded(c, 'seconds')];
      return tcpSurge('tcp-ramp', bounded(a, 'port'), bounded(String(rate * seconds), 'count'), rate, bounded(d, 'grace'));
    }
    case 'tcp-burst': {
      const count = bounded(b, 'count');
      return tcpSurge('tcp-burst', bounded(a, 'port'), count, count, bounded(c, 'grace'));
    }
    case 'udp-ramp': {
      const [rate, seconds] = [bounded(b, 'rate'), bounded(c, 'seconds')];
      return udpRamp(bounded(a, 'port'), bounded(String(rate * seconds), 'count'), rate);
    }
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

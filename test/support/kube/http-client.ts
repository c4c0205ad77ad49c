// A raw HTTP(S) client for conformance tests: exact status codes, headers and bodies,
// and watch streams read line by line. Works against the in-process server (http) and a
// real kube-apiserver (https with its self-signed CA).
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Endpoint {
  url: string;
  /** Base64 PEM of the serving CA, for https. */
  caData?: string;
}

export interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  text: string;
  /** The parsed JSON body (undefined when the body is not JSON). */
  body: any;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  contentType?: string;
  accept?: string;
  userAgent?: string;
}

function send(endpoint: Endpoint, method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
  const target = new URL(path, endpoint.url);
  const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json', 'User-Agent': opts.userAgent ?? 'conformance-test/v0' };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  if (payload !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const tls = endpoint.caData ? { ca: Buffer.from(endpoint.caData, 'base64').toString('utf8') } : {};
  return new Promise((resolve, reject) => {
    const req = requestFn(target, { method, headers, ...tls }, resolve);
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

export async function rawRequest(endpoint: Endpoint, method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
  const res = await send(endpoint, method, path, opts);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.statusCode ?? 0, headers: res.headers, text, body };
}

export interface WatchEvent {
  type: string;
  object: any;
}

export interface WatchStream {
  status: number;
  headers: IncomingMessage['headers'];
  /** The next event, or undefined when the stream ended (cleanly or not) before one arrived. */
  next(timeoutMs?: number): Promise<WatchEvent | undefined>;
  /** Resolves when the server ends the stream; `clean` is false when the connection was cut. */
  ended: Promise<{ clean: boolean }>;
  close(): void;
}

export async function openWatch(endpoint: Endpoint, path: string, token: string): Promise<WatchStream> {
  const res = await send(endpoint, 'GET', path, { token });
  const events: WatchEvent[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let done = false;
  const wake = () => waiters.splice(0).forEach((w) => w());
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line) events.push(JSON.parse(line) as WatchEvent);
      newline = buffer.indexOf('\n');
    }
    wake();
  });
  const ended = new Promise<{ clean: boolean }>((resolve) => {
    res.on('end', () => resolve({ clean: true }));
    res.on('error', () => resolve({ clean: false }));
    res.on('aborted', () => resolve({ clean: false }));
    res.on('close', () => resolve({ clean: res.complete }));
  });
  void ended.then(() => {
    done = true;
    wake();
  });
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    ended,
    close: () => res.destroy(),
    async next(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length === 0 && !done && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - Date.now());
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events.shift();
    },
  };
}

// /metrics, /healthz and /readyz for the agent and the controller. Liveness
// says the loop is turning (a stuck loop gets the pod restarted); readiness
// says the process is doing its job (for the agent: src/agent/readiness.ts).
// A 503 carries the reason as its body, so `kubectl describe pod` shows it.
//
// Secure (--metrics-secure): /metrics over HTTPS, only to a caller the API
// server authenticates and authorizes (src/kube/metrics-auth.ts). The kubelet
// cannot present a token, so the health endpoints are never behind it: on their
// own plain-HTTP address (--health-addr, 127.0.0.1 for a host-network pod) or,
// without one, beside /metrics unauthenticated, as kube-apiserver serves its
// own /healthz and /readyz to anyone.
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { errorText } from '../errors.js';
import type { Log } from '../logger.js';
import type { ServingCertificate } from './serving-cert.js';

export interface HealthSource {
  metrics(): Promise<{ body: string; contentType: string }>;
  /** null = healthy; otherwise why not. */
  liveProblem(): string | null;
  readyProblem(): string | null;
}

/** May this request have /metrics? (src/kube/metrics-auth.ts MetricsAuthorizer.check). */
export type MetricsCheck = (
  authorization: string | undefined,
  method: string,
  path: string,
) => Promise<{ allowed: true } | { allowed: false; code: number; message: string }>;

export interface SecureMetrics {
  certificate: ServingCertificate;
  check: MetricsCheck;
  log: Log;
}

export interface Address {
  host: string;
  port: number;
}

const HEALTH_PATHS = new Set(['/healthz', '/livez', '/readyz']);

export class HealthServer {
  private readonly servers: Array<Server | HttpsServer> = [];

  constructor(
    private readonly source: HealthSource,
    private readonly secure?: SecureMetrics,
  ) {}

  /** Serves /metrics on `metrics` and the health paths on `health` when given (else beside /metrics); the addresses bound. */
  async listen(metrics: Address, health?: Address): Promise<{ metrics: AddressInfo; health?: AddressInfo }> {
    const metricsServer = this.secure ? this.httpsServer(this.secure, this.handler(!health)) : createHttpServer(this.handler(!health));
    const bound = await this.bind(metricsServer, metrics);
    if (!health) return { metrics: bound };
    return { metrics: bound, health: await this.bind(createHttpServer(this.healthHandler()), health) };
  }

  async close(): Promise<void> {
    this.secure?.certificate.stop();
    const servers = this.servers.splice(0);
    await Promise.all(
      servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }

  private httpsServer(secure: SecureMetrics, handler: RequestListener): HttpsServer {
    const server = createHttpsServer({ ...secure.certificate.current(), minVersion: 'TLSv1.2' }, handler);
    // A renewed certificate (cert-manager) is served to new connections without a restart.
    secure.certificate.watch((pair) => server.setSecureContext({ ...pair, minVersion: 'TLSv1.2' }), secure.log);
    return server;
  }

  private async bind(server: Server | HttpsServer, address: Address): Promise<AddressInfo> {
    this.servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  /** /metrics, behind the check when secure, and the health paths too when they have no address of their own. */
  private handler(withHealth: boolean): RequestListener {
    const health = this.healthHandler();
    return (req, res) => {
      const path = pathOf(req);
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
      if (withHealth && HEALTH_PATHS.has(path)) return health(req, res);
      if (path !== '/metrics') return reply(res, 404, `not found: try /metrics${withHealth ? ', /healthz, /readyz' : ''}\n`);
      const allowed = this.secure ? this.secure.check(req.headers.authorization, req.method, path) : Promise.resolve({ allowed: true as const });
      allowed
        .then(async (verdict) => {
          if (!verdict.allowed) return reply(res, verdict.code, `${verdict.message}\n`);
          const m = await this.source.metrics();
          reply(res, 200, m.body, m.contentType);
        })
        .catch((err: unknown) => reply(res, 500, `metrics: ${errorText(err)}\n`));
    };
  }

  private healthHandler(): RequestListener {
    return (req, res) => {
      const path = pathOf(req);
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
      if (!HEALTH_PATHS.has(path)) return reply(res, 404, 'not found: try /healthz, /readyz\n');
      const problem = path === '/readyz' ? this.source.readyProblem() : this.source.liveProblem();
      reply(res, problem ? 503 : 200, problem ? `${problem}\n` : 'ok\n');
    };
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
}

function reply(res: ServerResponse, code: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': type });
  res.end(body);
}

/** The URLs a start-up log line names. */
export function servedAt(bound: { metrics: AddressInfo; health?: AddressInfo }, secure: boolean): { metrics: string; health?: string } {
  const url = (scheme: string, a: AddressInfo, path: string) => `${scheme}://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${path}`;
  return { metrics: url(secure ? 'https' : 'http', bound.metrics, '/metrics'), ...(bound.health ? { health: url('http', bound.health, '/healthz') } : {}) };
}

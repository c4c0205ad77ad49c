// /metrics, /healthz and /readyz for the agent and the controller. Liveness
// says the loop is turning (a stuck loop gets the pod restarted); readiness
// says the process is doing its job (for the agent: src/agent/readiness.ts).
// A 503 carries the reason as its body, so `kubectl describe pod` shows it.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorText } from '../errors.js';

export interface HealthSource {
  metrics(): Promise<{ body: string; contentType: string }>;
  /** null = healthy; otherwise why not. */
  liveProblem(): string | null;
  readyProblem(): string | null;
}

export class HealthServer {
  private server: Server | null = null;

  constructor(private readonly source: HealthSource) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const reply = (code: number, body: string, type = 'text/plain; charset=utf-8') => {
        res.writeHead(code, { 'content-type': type });
        res.end(body);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed\n');
      if (path === '/metrics') {
        this.source.metrics().then(
          (m) => reply(200, m.body, m.contentType),
          (err: unknown) => reply(500, `metrics: ${errorText(err)}\n`),
        );
        return;
      }
      if (path === '/healthz' || path === '/livez') {
        const problem = this.source.liveProblem();
        return reply(problem ? 503 : 200, problem ? `${problem}\n` : 'ok\n');
      }
      if (path === '/readyz') {
        const problem = this.source.readyProblem();
        return reply(problem ? 503 : 200, problem ? `${problem}\n` : 'ok\n');
      }
      reply(404, 'not found: try /metrics, /healthz, /readyz\n');
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

// The metrics and health server of the agent and the controller, on real
// sockets: the routes plain and with a health address of their own; secure,
// /metrics behind the check over HTTPS while the health paths never are; the
// certificate from a folder, served renewed without a restart, a broken
// renewal logged and the previous one kept.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { HealthServer, type HealthSource, type MetricsCheck } from '../../src/cli/health-server.js';
import { ServingCertificate } from '../../src/cli/serving-cert.js';
import { selfSignedCert } from '../../src/self-signed-cert.js';
import { silentLog } from '../support/silent-log.js';
import { until } from '../support/until.js';

const SOURCE: HealthSource = {
  metrics: async () => ({ body: 'conntrack_operator_table_entries 42\n', contentType: 'text/plain; version=0.0.4' }),
  liveProblem: () => null,
  readyProblem: () => 'no reconcile pass has finished yet',
};
const LOOPBACK = { host: '127.0.0.1', port: 0 };

interface Reply {
  status: number;
  body: string;
  /** The certificate an HTTPS server presented. */
  cert?: PeerCertificate;
}

/** One request on a fresh connection (a renewed certificate is seen by new connections). */
function get(scheme: 'http' | 'https', port: number, path: string, opts: { method?: string; token?: string } = {}): Promise<Reply> {
  const request = scheme === 'https' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        agent: false,
        rejectUnauthorized: false,
        headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => {
          const cert = scheme === 'https' ? (res.socket as TLSSocket).getPeerCertificate() : undefined;
          resolve({ status: res.statusCode!, body, ...(cert ? { cert } : {}) });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('plain: /metrics, /healthz and /readyz on one address; other methods and paths refused', async () => {
  const server = new HealthServer(SOURCE);
  const { metrics } = await server.listen(LOOPBACK);
  try {
    const cases: Array<[path: string, method: string, status: number, body: RegExp]> = [
      ['/metrics', 'GET', 200, /^conntrack_operator_table_entries 42$/m],
      ['/healthz', 'GET', 200, /^ok$/m],
      ['/livez', 'GET', 200, /^ok$/m],
      ['/readyz', 'GET', 503, /no reconcile pass has finished yet/],
      ['/metrics', 'POST', 405, /method not allowed/],
      ['/debug', 'GET', 404, /try \/metrics, \/healthz, \/readyz/],
    ];
    for (const [path, method, status, body] of cases) {
      const r = await get('http', metrics.port, path, { method });
      assert.equal(r.status, status, `${method} ${path}`);
      assert.match(r.body, body, `${method} ${path}`);
    }
  } finally {
    await server.close();
  }
});

test('a health address: the health paths there only, /metrics on its own', async () => {
  const server = new HealthServer(SOURCE);
  const bound = await server.listen(LOOPBACK, LOOPBACK);
  try {
    assert.ok(bound.health && bound.health.port !== bound.metrics.port);
    assert.equal((await get('http', bound.metrics.port, '/healthz')).status, 404);
    assert.equal((await get('http', bound.metrics.port, '/metrics')).status, 200);
    assert.equal((await get('http', bound.health.port, '/healthz')).status, 200);
    assert.equal((await get('http', bound.health.port, '/readyz')).status, 503);
    assert.equal((await get('http', bound.health.port, '/metrics')).status, 404);
  } finally {
    await server.close();
  }
});

/** A check that lets through one token, refuses another, and records what it was asked. */
function recordingCheck(): { check: MetricsCheck; asked: string[] } {
  const asked: string[] = [];
  const check: MetricsCheck = async (authorization, method, path) => {
    asked.push(`${method} ${path} ${authorization ?? '-'}`);
    if (authorization === 'Bearer scraper') return { allowed: true };
    return authorization === 'Bearer stranger'
      ? { allowed: false, code: 403, message: 'Authorization denied for user stranger' }
      : { allowed: false, code: 401, message: 'Unauthorized' };
  };
  return { check, asked };
}

test('secure, self-signed: HTTPS, /metrics only past the check; the health paths beside it are not checked', async () => {
  const { check, asked } = recordingCheck();
  const server = new HealthServer(SOURCE, { certificate: await ServingCertificate.load(undefined), check, log: silentLog() });
  const { metrics } = await server.listen(LOOPBACK);
  try {
    assert.deepEqual(
      [await get('https', metrics.port, '/metrics'), await get('https', metrics.port, '/metrics', { token: 'stranger' })].map((r) => [r.status, r.body]),
      [
        [401, 'Unauthorized\n'],
        [403, 'Authorization denied for user stranger\n'],
      ],
    );
    const allowed = await get('https', metrics.port, '/metrics', { token: 'scraper' });
    assert.equal(allowed.status, 200);
    assert.match(allowed.body, /conntrack_operator_table_entries 42/);
    assert.equal(allowed.cert?.subject.CN, 'conntrack-operator-metrics');
    assert.equal(new X509Certificate(allowed.cert!.raw).checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal((await get('https', metrics.port, '/healthz')).status, 200);
    assert.deepEqual(asked, ['GET /metrics -', 'GET /metrics Bearer stranger', 'GET /metrics Bearer scraper'], 'the health path was not checked');
    await assert.rejects(get('http', metrics.port, '/metrics'), 'no plain HTTP on the secure address');
  } finally {
    await server.close();
  }
});

test('secure, a certificate folder: served, renewed without a restart, a broken renewal kept out', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ctop-metrics-tls-'));
  const write = async (pair: { cert: string; key: string }) => {
    await writeFile(join(dir, 'tls.crt'), pair.cert);
    await writeFile(join(dir, 'tls.key'), pair.key);
  };
  const pairOf = (commonName: string) => {
    const c = selfSignedCert({ commonName });
    return { cert: c.certPem, key: c.keyPem };
  };
  const warnings: string[] = [];
  let server: HealthServer | undefined;
  try {
    await assert.rejects(ServingCertificate.load(dir), /--metrics-cert-dir: cannot read .*tls\.crt/);
    await write({ cert: pairOf('a').cert, key: pairOf('b').key });
    await assert.rejects(ServingCertificate.load(dir), /tls\.crt and tls\.key are not a usable pair/);

    await write(pairOf('first'));
    const certificate = await ServingCertificate.load(dir, 50);
    server = new HealthServer(SOURCE, { certificate, check: recordingCheck().check, log: silentLog({ warn: (_o, m) => void warnings.push(m) }) });
    const { metrics } = await server.listen(LOOPBACK);
    const servedCN = async () => (await get('https', metrics.port, '/metrics', { token: 'scraper' })).cert?.subject.CN;
    assert.equal(await servedCN(), 'first');

    await write(pairOf('renewed'));
    await until('the renewed certificate served', async () => ((await servedCN()) === 'renewed' ? true : undefined), 5000);

    await writeFile(join(dir, 'tls.key'), 'not a key');
    await until('the broken renewal logged', async () => (warnings.length > 0 ? true : undefined), 5000);
    assert.match(warnings[0]!, /serving the previous certificate/);
    assert.equal(await servedCN(), 'renewed');
  } finally {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  }
});

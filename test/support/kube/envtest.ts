// The envtest convention (controller-runtime's pkg/envtest): when KUBEBUILDER_ASSETS
// names a folder holding kube-apiserver and etcd, tests run against those real
// binaries instead of the in-process server. This starts them on 127.0.0.1 with
// static-token authentication and RBAC, as envtest's controlplane package does,
// and stops exactly the processes it started.
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EnvtestIdentity {
  token: string;
  user: string;
  groups?: string[];
}

export interface EnvtestOptions {
  /** Defaults to $KUBEBUILDER_ASSETS. */
  assetsDir?: string;
  /** Extra token identities; kube-apiserver reads its token file once, at start. */
  identities?: EnvtestIdentity[];
  /** How long etcd and kube-apiserver each get to become ready (default 60 s). */
  startTimeoutMs?: number;
}

export interface Envtest {
  /** https://127.0.0.1:<port> */
  url: string;
  /** A token of user ADMIN_USER in group system:masters. */
  adminToken: string;
  /** Base64 of kube-apiserver's self-generated serving certificate chain, for certificate-authority-data. */
  caData: string;
  /** The kubectl in the assets folder, when there is one. */
  kubectl?: string;
  stop(): Promise<void>;
}

export interface EnvtestAssets {
  kubeApiserver: string;
  etcd: string;
  kubectl?: string;
}

export const ADMIN_USER = 'envtest-admin';
const DEFAULT_START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const LOG_TAIL_BYTES = 8_192;
// envtest's defaults: no ServiceAccount admission (no controller creates the default SA)
// and a small service range (the in-process server's default ServiceCIDR holds the same).
export const SERVICE_CLUSTER_IP_RANGE = '10.0.0.0/24';

/** True when KUBEBUILDER_ASSETS is set: the suites then run against real binaries. */
export function envtestConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.KUBEBUILDER_ASSETS);
}

/** The binaries in an assets folder; a missing one is an error naming it. */
export function envtestAssets(dir: string): EnvtestAssets {
  const path = (name: string) => join(dir, name);
  const missing = ['kube-apiserver', 'etcd'].filter((name) => !existsSync(path(name)));
  if (missing.length) {
    throw new Error(`KUBEBUILDER_ASSETS: ${dir} has no ${missing.join(' and no ')} (expected kube-apiserver and etcd, optionally kubectl)`);
  }
  const assets: EnvtestAssets = { kubeApiserver: path('kube-apiserver'), etcd: path('etcd') };
  if (existsSync(path('kubectl'))) assets.kubectl = path('kubectl');
  return assets;
}

/** kube-apiserver's --token-auth-file: CSV rows of token,user,uid[,"group1,group2"]. */
export function tokenAuthFile(identities: EnvtestIdentity[]): string {
  const seen = new Set<string>();
  return identities
    .map(({ token, user, groups = [] }, i) => {
      if (!/^[\x21-\x7e]+$/.test(token) || /[",]/.test(token)) {
        throw new Error(`identities[${i}].token: must be printable ASCII without spaces, commas or quotes`);
      }
      if (seen.has(token)) throw new Error(`identities[${i}].token: used twice`);
      seen.add(token);
      if (!user || /[\r\n]/.test(user)) throw new Error(`identities[${i}].user: must be a non-empty single line`);
      const badGroup = groups.find((g) => !g || /[,\r\n]/.test(g));
      if (badGroup !== undefined) throw new Error(`identities[${i}].groups: "${badGroup}" is empty or holds a comma or newline`);
      const fields = [token, user, user];
      if (groups.length) fields.push(groups.join(','));
      return fields.map(csvField).join(',');
    })
    .join('\n')
    .concat('\n');
}

function csvField(value: string): string {
  return /[",]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export interface EtcdArgsInput {
  dataDir: string;
  clientPort: number;
  peerPort: number;
  /** --unsafe-no-fsync exists from etcd 3.5; older etcd refuses unknown flags. */
  noFsync: boolean;
}

export function etcdArgs(input: EtcdArgsInput): string[] {
  const client = `http://127.0.0.1:${input.clientPort}`;
  const args = [
    `--data-dir=${input.dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=http://127.0.0.1:${input.peerPort}`,
  ];
  if (input.noFsync) args.push('--unsafe-no-fsync=true');
  return args;
}

export interface ApiServerArgsInput {
  certDir: string;
  etcdUrl: string;
  securePort: number;
  tokenAuthFile: string;
  serviceAccountKeyFile: string;
  serviceAccountSigningKeyFile: string;
}

export function apiServerArgs(input: ApiServerArgsInput): string[] {
  return [
    '--advertise-address=127.0.0.1',
    // Binding 127.0.0.1 also puts that IP in the self-signed serving certificate it generates in --cert-dir.
    '--bind-address=127.0.0.1',
    `--secure-port=${input.securePort}`,
    `--cert-dir=${input.certDir}`,
    `--etcd-servers=${input.etcdUrl}`,
    '--authorization-mode=RBAC',
    `--token-auth-file=${input.tokenAuthFile}`,
    `--service-account-issuer=https://127.0.0.1:${input.securePort}/`,
    `--service-account-key-file=${input.serviceAccountKeyFile}`,
    `--service-account-signing-key-file=${input.serviceAccountSigningKeyFile}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    '--allow-privileged=true',
    '--disable-admission-plugins=ServiceAccount',
    // The ServiceCIDR API (networking.k8s.io/v1beta1), which the agent reads for the
    // cluster's Service ranges: beta and off by default in 1.31-1.32 (GA and on in 1.33).
    '--runtime-config=networking.k8s.io/v1beta1=true',
    '--feature-gates=MultiCIDRServiceAllocator=true',
  ];
}

/** Starts etcd and kube-apiserver, waits for /readyz, and returns how to reach and stop them. */
export async function startEnvtest(opts: EnvtestOptions = {}): Promise<Envtest> {
  const assetsDir = opts.assetsDir ?? process.env.KUBEBUILDER_ASSETS;
  if (!assetsDir) throw new Error('KUBEBUILDER_ASSETS: not set, so there are no kube-apiserver and etcd binaries to start');
  const assets = envtestAssets(assetsDir);
  const timeoutMs = opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
  const adminToken = randomBytes(24).toString('hex');
  const root = await mkdtemp(join(tmpdir(), 'ctop-envtest-'));
  const started: Started[] = [];
  const killOnExit = () => started.forEach((p) => p.child.kill('SIGKILL'));
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    for (const p of [...started].reverse()) await stopProcess(p);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const certDir = join(root, 'certs');
    const dataDir = join(root, 'etcd');
    await mkdir(certDir, { mode: 0o700 });
    await mkdir(dataDir, { mode: 0o700 });
    const [clientPort, peerPort, securePort] = [await freePort(), await freePort(), await freePort()];
    const identities = [{ token: adminToken, user: ADMIN_USER, groups: ['system:masters'] }, ...(opts.identities ?? [])];
    const files = await writeApiServerFiles(root, identities);

    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const noFsync = (await helpText(assets.etcd)).includes('unsafe-no-fsync');
    const etcd = launch('etcd', assets.etcd, etcdArgs({ dataDir, clientPort, peerPort, noFsync }));
    started.push(etcd);
    await waitUntil(etcd, timeoutMs, () => httpOk(`${etcdUrl}/health`));

    const url = `https://127.0.0.1:${securePort}`;
    const apiServer = launch('kube-apiserver', assets.kubeApiserver, apiServerArgs({ certDir, etcdUrl, securePort, ...files }));
    started.push(apiServer);
    await waitUntil(apiServer, timeoutMs, () => httpsOk(`${url}/readyz`, adminToken));

    const caData = (await readFile(join(certDir, 'apiserver.crt'))).toString('base64');
    const env: Envtest = { url, adminToken, caData, stop };
    if (assets.kubectl) env.kubectl = assets.kubectl;
    return env;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function writeApiServerFiles(root: string, identities: EnvtestIdentity[]) {
  const tokenFile = join(root, 'tokens.csv');
  await writeFile(tokenFile, tokenAuthFile(identities), { mode: 0o600 });
  // A recent kube-apiserver refuses to start without a service-account signing key and issuer.
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const serviceAccountKeyFile = join(root, 'sa.pub');
  const serviceAccountSigningKeyFile = join(root, 'sa.key');
  await writeFile(serviceAccountKeyFile, publicKey);
  await writeFile(serviceAccountSigningKeyFile, privateKey, { mode: 0o600 });
  return { tokenAuthFile: tokenFile, serviceAccountKeyFile, serviceAccountSigningKeyFile };
}

interface Started {
  name: string;
  child: ChildProcess;
  /** The last LOG_TAIL_BYTES of its output, for error messages. */
  tail: () => string;
  exited: Promise<void>;
}

function launch(name: string, path: string, args: string[]): Started {
  const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString('utf8')).slice(-LOG_TAIL_BYTES);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (e) => {
      keep(Buffer.from(String(e)));
      resolve();
    });
  });
  return { name, child, tail: () => log, exited };
}

/** SIGTERM by PID, then SIGKILL if it has not exited within STOP_GRACE_MS. */
async function stopProcess(p: Started): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null || p.child.pid === undefined) return;
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), STOP_GRACE_MS);
  await p.exited;
  clearTimeout(timer);
}

/** Polls `ready` until it holds; fails early, with the process's output, if it exits. */
async function waitUntil(p: Started, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  let exited = false;
  void p.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${p.name} exited before becoming ready; its output ends:\n${p.tail()}`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${p.name} not ready within ${timeoutMs} ms; its output ends:\n${p.tail()}`);
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpGet(url, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2_000, () => req.destroy());
  });
}

/** The serving certificate does not exist before the server does, so readiness is probed without verifying it. */
function httpsOk(url: string, token: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.setTimeout(2_000, () => req.destroy());
    req.end();
  });
}

function helpText(path: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(path, ['--help'], { timeout: 10_000 }, (_err, stdout, stderr) => resolve(`${stdout}${stderr}`));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

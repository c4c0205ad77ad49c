// startApi(): the API server a Kubernetes test talks to. With KUBEBUILDER_ASSETS set it is a
// real kube-apiserver + etcd (envtest.ts); otherwise the in-process test server. Tests
// written against this run unchanged on both; in-process-only features (fault injection,
// request log) are absent on a real server and such tests skip.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UserInfo } from './auth-types.js';
import { envtestConfigured, startEnvtest } from './envtest.js';
import type { Faults } from './faults.js';
import { rawRequest, type RawResponse, type RequestOptions } from './http-client.js';
import { writeKubeconfig } from './kubeconfig.js';
import { startTestApiServer, type TestApiServer } from './server.js';

export interface StartApiOptions {
  /** Identities to create tokens for; a real kube-apiserver reads its token file only at start. */
  users?: UserInfo[];
  /** In-process only: server-side timeout of watches without timeoutSeconds. */
  defaultWatchTimeoutSeconds?: number;
  /** In-process only: bookmark period for watches that allow bookmarks. */
  bookmarkIntervalMs?: number;
  /** In-process only: how long a list at a resourceVersion not reached yet waits before its 504 (kube-apiserver: 3 s). */
  tooLargeResourceVersionWaitMs?: number;
  /** Force the in-process server even when KUBEBUILDER_ASSETS is set (tests of the test server itself). */
  inProcess?: boolean;
}

export interface TestApi {
  kind: 'in-process' | 'envtest';
  url: string;
  /** Base64 PEM of the CA that signed the serving certificate (both servers speak HTTPS). */
  caData: string;
  /** A system:masters token. */
  adminToken: string;
  /** The token of a user declared in StartApiOptions.users. */
  tokenFor(user: string): string;
  /** Writes a kubeconfig for the user (admin by default) and returns its path. */
  kubeconfig(user?: string): string;
  /** A raw request as the admin unless opts.token says otherwise. */
  request(method: string, path: string, opts?: RequestOptions): Promise<RawResponse>;
  /** In-process only: fault injection (undefined against a real server). */
  faults?: Faults;
  /** In-process only: the server itself (request log, store). */
  server?: TestApiServer;
  stop(): Promise<void>;
}

export const SKIP_REAL_SERVER = 'needs the in-process test API server (fault injection / request log): a real kube-apiserver has none';
/** For kube-apiserver behaviour nothing the project runs relies on, which the test server leaves out. */
export const REAL_SERVER_ONLY =
  'kube-apiserver behaviour the in-process test server leaves out (nothing the project runs needs it): set KUBEBUILDER_ASSETS to run it against a real server';

export async function startApi(opts: StartApiOptions = {}): Promise<TestApi> {
  const tokens = new Map<string, string>();
  for (const user of opts.users ?? []) tokens.set(user.name, randomBytes(16).toString('hex'));
  const dir = mkdtempSync(join(tmpdir(), 'ctop-kubeconfig-'));
  const tokenFor = (user: string) => {
    const token = tokens.get(user);
    if (!token) throw new Error(`user "${user}": not declared in startApi({ users })`);
    return token;
  };
  const common = (url: string, adminToken: string, caData: string) => ({
    url,
    caData,
    adminToken,
    tokenFor,
    kubeconfig: (user?: string) => {
      const token = user ? tokenFor(user) : adminToken;
      return writeKubeconfig({ server: url, token, user: user ?? 'admin', dir, caData });
    },
    request: (method: string, path: string, ro: RequestOptions = {}) => rawRequest({ url, caData }, method, path, { token: adminToken, ...ro }),
  });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  if (envtestConfigured() && !opts.inProcess) {
    const env = await startEnvtest({ identities: (opts.users ?? []).map((u) => ({ token: tokenFor(u.name), user: u.name, groups: u.groups })) });
    return {
      kind: 'envtest',
      ...common(env.url, env.adminToken, env.caData),
      stop: async () => {
        await env.stop();
        cleanup();
      },
    };
  }
  const server = await startTestApiServer({
    tokens: Object.fromEntries((opts.users ?? []).map((u) => [tokenFor(u.name), u])),
    ...(opts.defaultWatchTimeoutSeconds !== undefined ? { defaultWatchTimeoutSeconds: opts.defaultWatchTimeoutSeconds } : {}),
    ...(opts.bookmarkIntervalMs !== undefined ? { bookmarkIntervalMs: opts.bookmarkIntervalMs } : {}),
    ...(opts.tooLargeResourceVersionWaitMs !== undefined ? { tooLargeResourceVersionWaitMs: opts.tooLargeResourceVersionWaitMs } : {}),
  });
  return {
    kind: 'in-process',
    ...common(server.url, server.adminToken, server.caData),
    faults: server.faults,
    server,
    stop: async () => {
      await server.stop();
      cleanup();
    },
  };
}

/** Creates a CRD and waits until it is Established and served, as a real server needs a moment. */
export async function createCrd(api: TestApi, crd: Record<string, any>): Promise<RawResponse> {
  const created = await api.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', { body: crd });
  if (created.status !== 201) return created;
  const { group, versions, names } = crd.spec;
  const servedPath = `/apis/${group}/${versions[0].name}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const got = await api.request('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`);
    const established = (got.body?.status?.conditions ?? []).some((c: any) => c.type === 'Established' && c.status === 'True');
    const discovery = await api.request('GET', servedPath);
    const served = (discovery.body?.resources ?? []).some((r: any) => r.name === names.plural);
    if (established && served) return created;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`CRD ${crd.metadata.name}: not Established and served within 20 s`);
}

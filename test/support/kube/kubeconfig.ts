// One kubeconfig file per identity (bearer token), readable by kubectl, helm and
// @kubernetes/client-node's KubeConfig.loadFromFile. Written as JSON, which every
// kubeconfig reader accepts (it is YAML).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KubeconfigOptions {
  /** The API server URL, e.g. https://127.0.0.1:43211. */
  server: string;
  token: string;
  /** Names the user entry and the file; defaults to "test-user". */
  user?: string;
  /** Folder to write into (created if missing). */
  dir: string;
  /** Base64 of the PEM CA bundle that signed the serving certificate (kubeconfig's certificate-authority-data). */
  caData?: string;
  /**
   * Defaults to true for an http:// server: client-node refuses plain HTTP
   * ("HTTP protocol is not allowed when skipTLSVerify is not set or false").
   */
  insecureSkipTLSVerify?: boolean;
  /** The context's default namespace. */
  namespace?: string;
}

const CLUSTER = 'test-cluster';

function kubeconfigObject(opts: Omit<KubeconfigOptions, 'dir'>): Record<string, unknown> {
  if (!/^https?:\/\/[^/]+/.test(opts.server)) throw new Error(`kubeconfig server: "${opts.server}" is not an http(s) URL`);
  if (!opts.token) throw new Error('kubeconfig token: must not be empty');
  const insecure = opts.insecureSkipTLSVerify ?? opts.server.startsWith('http:');
  if (opts.caData && insecure) {
    // kubectl refuses this pair: "specifying a root certificates file with the insecure flag is not allowed".
    throw new Error('kubeconfig caData: cannot be combined with insecureSkipTLSVerify (or an http:// server)');
  }
  const user = opts.user ?? 'test-user';
  const cluster: Record<string, unknown> = { server: opts.server };
  if (opts.caData) cluster['certificate-authority-data'] = opts.caData;
  if (insecure) cluster['insecure-skip-tls-verify'] = true;
  const context: Record<string, unknown> = { cluster: CLUSTER, user };
  if (opts.namespace) context.namespace = opts.namespace;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: CLUSTER, cluster }],
    users: [{ name: user, user: { token: opts.token } }],
    contexts: [{ name: user, context }],
    'current-context': user,
    preferences: {},
  };
}

/** Writes the kubeconfig and returns its path; mode 0600 because helm warns about group-readable kubeconfigs. */
export function writeKubeconfig(opts: KubeconfigOptions): string {
  const config = kubeconfigObject(opts);
  mkdirSync(opts.dir, { recursive: true });
  // The token hash keeps two tokens of one user apart without putting the token in the name.
  const tokenId = createHash('sha256').update(opts.token).digest('hex').slice(0, 10);
  const safeUser = (opts.user ?? 'test-user').replace(/[^A-Za-z0-9_.-]+/g, '_');
  const path = join(opts.dir, `kubeconfig-${safeUser}-${tokenId}.json`);
  writeFileSync(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return path;
}

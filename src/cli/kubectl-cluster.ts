// What the kubectl plugin's commands share: the cluster as kubectl finds it,
// the agents' namespace, and API refusals turned into one line that names
// the problem (no CRD, RBAC, credentials, an unreachable server).
import type { Config } from '../config.js';
import { DEFAULT_AGENT_NAMESPACE } from '../config.js';
import { ClusterApi } from '../kube/cluster-api.js';
import { loadKubectlConfig } from '../kube/kubectl-config.js';
import { apiErrorText, apiStatus, errorText, statusCode } from '../errors.js';

export interface PluginCluster {
  api: ClusterApi;
  /** The agents' namespace: -n, else the context's, else the default install's. */
  namespace: string;
  context: string;
  server: string;
}

export function connectCluster(config: Config): PluginCluster {
  const { kc, namespace } = loadKubectlConfig({
    ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}),
    kubeconfigSearch: config.kubeconfigSearch,
    ...(config.context ? { context: config.context } : {}),
  });
  return {
    api: new ClusterApi(kc),
    namespace: config.namespace ?? namespace ?? DEFAULT_AGENT_NAMESPACE,
    context: kc.getCurrentContext(),
    server: kc.getCurrentCluster()?.server ?? '?',
  };
}

/** Runs one API call; a failure becomes an Error saying what was being done and what the server said. */
export async function apiCall<T>(cluster: PluginCluster, what: string, call: () => Promise<T>, onNotFound?: string): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw new Error(`${what}: ${refusal(cluster, err, onNotFound)}`);
  }
}

function refusal(cluster: PluginCluster, err: unknown, onNotFound: string | undefined): string {
  const code = statusCode(err);
  if (code === undefined) return `cannot reach the API server ${cluster.server} (context "${cluster.context}"): ${errorText(err)}`;
  if (code === 404 && onNotFound) return onNotFound;
  if (code === 403) return `refused by RBAC: ${apiStatus(err)?.message ?? 'HTTP 403 Forbidden'}`;
  if (code === 401) return `the API server ${cluster.server} refused the credentials of context "${cluster.context}" (HTTP 401 Unauthorized)`;
  return apiErrorText(err);
}

// The cluster, user and namespace a kubectl plugin works with, found the way
// kubectl finds them: --kubeconfig (that one file), else every file of
// KUBECONFIG's list that exists (merged: the first file to name a cluster,
// user or context wins, and the first current-context), else
// ~/.kube/config, else the pod's service account; then --context. The
// agent and the controller keep loadKubeConfig (one file, or in-cluster).
import { KubeConfig } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { errorText } from '../errors.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubectlConfigInput {
  /** --kubeconfig. */
  kubeconfig?: string;
  /** Where kubectl looks without --kubeconfig: KUBECONFIG's files, else ~/.kube/config. */
  kubeconfigSearch: string[];
  /** --context. */
  context?: string;
}

export interface KubectlConfig {
  kc: KubeConfig;
  /** The context's namespace, when it names one. */
  namespace?: string;
  /** What was read, for messages: the files, or the service account. */
  source: string;
}

export function loadKubectlConfig(input: KubectlConfigInput, serviceAccountToken = SERVICE_ACCOUNT_TOKEN): KubectlConfig {
  if (input.kubeconfig && !existsSync(input.kubeconfig)) throw new Error(`--kubeconfig ${input.kubeconfig}: no such file`);
  const files = input.kubeconfig ? [input.kubeconfig] : input.kubeconfigSearch.filter((f) => existsSync(f));
  const kc = new KubeConfig();
  if (files.length > 0) {
    for (const file of files) mergeFirstWins(kc, file);
  } else if (existsSync(serviceAccountToken)) {
    kc.loadFromCluster();
  } else {
    const looked = input.kubeconfigSearch.length ? input.kubeconfigSearch.join(', ') : 'no KUBECONFIG and no HOME';
    throw new Error(`no kubeconfig (looked at ${looked}) and no pod service account: give --kubeconfig FILE or set KUBECONFIG`);
  }
  const source = files.length ? files.join(':') : 'the pod service account';
  if (input.context) {
    if (!kc.getContextObject(input.context)) throw new Error(`--context ${input.context}: ${source} has no such context (${contextNames(kc)})`);
    kc.setCurrentContext(input.context);
  }
  const context = kc.getContextObject(kc.getCurrentContext());
  if (!context) throw new Error(`${source}: no current-context; name one with --context (${contextNames(kc)})`);
  if (!kc.getCurrentCluster()) throw new Error(`${source}: context "${context.name}" names cluster "${context.cluster}", which it does not define`);
  return { kc, ...(context.namespace ? { namespace: context.namespace } : {}), source };
}

function contextNames(kc: KubeConfig): string {
  const names = kc.getContexts().map((c) => c.name);
  return names.length ? `contexts: ${names.join(', ')}` : 'it defines no context';
}

/** kubectl's merge of several kubeconfig files: a name already defined by an earlier file keeps that definition. */
function mergeFirstWins(kc: KubeConfig, file: string): void {
  const next = new KubeConfig();
  try {
    next.loadFromFile(file);
  } catch (err) {
    throw new Error(`${file}: not a kubeconfig: ${errorText(err)}`);
  }
  const known = (list: Array<{ name: string }>, name: string) => list.some((x) => x.name === name);
  for (const c of next.getClusters()) if (!known(kc.getClusters(), c.name)) kc.addCluster(c);
  for (const u of next.getUsers()) if (!known(kc.getUsers(), u.name)) kc.addUser(u);
  for (const c of next.getContexts()) if (!known(kc.getContexts(), c.name)) kc.addContext(c);
  if (!kc.getCurrentContext() && next.getCurrentContext()) kc.setCurrentContext(next.getCurrentContext());
}

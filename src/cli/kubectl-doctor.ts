// `kubectl conntrack doctor NODE` (conntrack-operator kubectl doctor NODE):
// doctor run in NODE's agent pod, printed as doctor prints on a host.
//
// The pod is found through the API (the chart's agent labels and
// spec.nodeName); the exec is `kubectl exec`, as a child process with this
// process's stdout and stderr. kubectl is there by definition when it runs
// its plugin, and its exec brings what the API's exec subresource needs
// from a client: the streaming protocols (WebSocket, SPDY fallback) through
// proxies, every credential plugin of the kubeconfig, and the remote exit
// code as its own (doctor's 2 for a critical finding reaches the caller).
// Through @kubernetes/client-node the plugin would carry a WebSocket
// client of its own for one call, with less of that.
import { spawn } from 'node:child_process';
import type { Config } from '../config.js';
import { AGENT_CONTAINER, listAgentPods, runningAgentOn, type AgentPod } from '../kube/agent-pods.js';
import { apiCall, connectCluster } from './kubectl-cluster.js';

/**
 * How the image runs a one-shot command: its ENTRYPOINT's bundle without the
 * daemons' V8 flags, as bin/conntrack-operator runs doctor (they cost doctor
 * twice the CPU; test/packaging/dockerfile.test.ts holds the three together).
 */
export const IMAGE_CLI = ['node', '/app/dist/bundle/main.js'];
const ROOT_DEFAULTS = { '--proc-root': '/host/proc', '--sys-root': '/host/sys' };

/** The host's /proc and /sys as the agent container sees them: its own flags, else the chart's mounts. */
export function hostRootFlags(agentArgs: string[]): string[] {
  return Object.entries(ROOT_DEFAULTS).map(([flag, fallback]) => {
    const i = agentArgs.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    const value = i < 0 ? fallback : agentArgs[i]!.includes('=') ? agentArgs[i]!.slice(flag.length + 1) : agentArgs[i + 1];
    return `${flag}=${value ?? fallback}`;
  });
}

/** kubectl's arguments: the same kubeconfig and context, the agent container, doctor with the flags the user gave. */
export function kubectlExecArgs(config: Pick<Config, 'kubeconfig' | 'context' | 'doctorArgs'>, pod: AgentPod): string[] {
  return [
    ...(config.kubeconfig ? ['--kubeconfig', config.kubeconfig] : []),
    ...(config.context ? ['--context', config.context] : []),
    'exec',
    '--namespace',
    pod.namespace,
    pod.name,
    '--container',
    AGENT_CONTAINER,
    '--',
    ...IMAGE_CLI,
    'doctor',
    ...hostRootFlags(pod.args),
    ...config.doctorArgs,
  ];
}

export async function runKubectlDoctor(config: Config, err: NodeJS.WritableStream): Promise<number> {
  const cluster = connectCluster(config);
  const node = config.nodeName;
  const pods = await apiCall(cluster, `looking for the agent pod on node "${node}" in namespace ${cluster.namespace}`, () =>
    listAgentPods(cluster.api, cluster.namespace, config.agentSelector, node),
  );
  const pod = runningAgentOn(pods, node, { namespace: cluster.namespace, selector: config.agentSelector });
  return runKubectl(config.kubectl, kubectlExecArgs(config, pod), err);
}

/** Runs kubectl with this process's stdout and stderr; its exit code is ours. */
function runKubectl(kubectl: string, args: string[], err: NodeJS.WritableStream): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(kubectl, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error(`${kubectl}: not found (kubectl runs the exec; name it with --kubectl PATH)`) : e),
    );
    child.once('close', (code, signal) => {
      if (signal) err.write(`${kubectl} ended by ${signal}\n`);
      resolve(code ?? 1);
    });
  });
}

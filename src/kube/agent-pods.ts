// The agent pods as the kubectl commands see them: the chart's DaemonSet pods,
// found by label in the agents' namespace, each cut to what the commands use.
import type { V1Pod } from '@kubernetes/client-node';
import type { ClusterApi } from './cluster-api.js';

/** The agent's container in the chart's DaemonSet. */
export const AGENT_CONTAINER = 'agent';

export interface AgentPod {
  /** namespace/name. */
  pod: string;
  namespace: string;
  name: string;
  /** spec.nodeName; absent while the pod is not scheduled. */
  nodeName?: string;
  phase: string;
  deleting: boolean;
  /** status.startTime in ms: when the node's kubelet took the pod. */
  startedAtMs?: number;
  /** The agent container's args (its --proc-root, --sys-root). */
  args: string[];
  /** app.kubernetes.io/instance: the Helm release. */
  release?: string;
}

function agentPod(p: V1Pod): AgentPod {
  const namespace = p.metadata?.namespace ?? '';
  const name = p.metadata?.name ?? '';
  // client-node turns date-time fields into Dates; a raw string is accepted too.
  const started = p.status?.startTime ? new Date(p.status.startTime).getTime() : NaN;
  const container = p.spec?.containers.find((c) => c.name === AGENT_CONTAINER) ?? p.spec?.containers[0];
  const release = p.metadata?.labels?.['app.kubernetes.io/instance'];
  return {
    pod: `${namespace}/${name}`,
    namespace,
    name,
    ...(p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {}),
    phase: p.status?.phase ?? 'Pending',
    deleting: Boolean(p.metadata?.deletionTimestamp),
    ...(Number.isNaN(started) ? {} : { startedAtMs: started }),
    args: container?.args ?? [],
    ...(release ? { release } : {}),
  };
}

/** The agent pods of `namespace` matching `selector`; on one node only when `nodeName` is given (fieldSelector spec.nodeName). */
export async function listAgentPods(api: Pick<ClusterApi, 'listPods'>, namespace: string, selector: string, nodeName?: string): Promise<AgentPod[]> {
  const pods = await api.listPods(namespace, selector, nodeName ? `spec.nodeName=${nodeName}` : undefined);
  return pods.map(agentPod);
}

/** The one running agent pod on `node` among `pods` (that node's), or an error saying why there is none to use. */
export function runningAgentOn(pods: AgentPod[], node: string, where: { namespace: string; selector: string }): AgentPod {
  if (pods.length === 0) {
    throw new Error(
      `no agent pod on node "${node}" in namespace ${where.namespace} (pods labelled ${where.selector}): ` +
        "check the node's name (kubectl get nodes) and the agents' namespace (-n NAMESPACE)",
    );
  }
  const running = pods.filter((p) => p.phase === 'Running' && !p.deleting);
  if (running.length === 1) return running[0]!;
  if (running.length === 0) {
    const states = pods.map((p) => `${p.pod} is ${p.phase}${p.deleting ? ' and being deleted' : ''}`).join('; ');
    throw new Error(`no running agent pod on node "${node}": ${states} (kubectl describe pod shows why)`);
  }
  const named = running.map((p) => `${p.pod}${p.release ? ` (release ${p.release})` : ''}`).join(', ');
  throw new Error(
    `${running.length} agent pods run on node "${node}": ${named}; pick one release with -l ${where.selector},app.kubernetes.io/instance=RELEASE`,
  );
}

// `kubectl conntrack status` (conntrack-operator kubectl status): one row per
// node from the ConntrackStatus objects, fullest first. --check-ready also
// lists the agent pods and exits 2 unless every scheduled one's node is
// Ready: the chart's `helm test` runs it in the image.
import type { Config } from '../config.js';
import { systemClock, type Clock } from '../clock.js';
import { STATUS_RESOURCE } from '../api/v1alpha1/names.js';
import { listAgentPods } from '../kube/agent-pods.js';
import { checkAgentsReady, fleetRows } from '../report/fleet-status.js';
import { renderFleetText, renderReadinessText } from '../report/fleet-text.js';
import { apiCall, connectCluster } from './kubectl-cluster.js';
import { renderData } from './output.js';

const NO_CRD = `the cluster serves no ${STATUS_RESOURCE.plural}.conntrack.io: conntrack-operator's CRDs are not installed (helm install, or kubectl apply -f crds/)`;

export async function runKubectlStatus(config: Config, out: NodeJS.WritableStream, clock: Clock = systemClock): Promise<number> {
  const cluster = connectCluster(config);
  const list = await apiCall(cluster, 'listing ConntrackStatus objects', () => cluster.api.customListWatch(STATUS_RESOURCE.plural).list(''), NO_CRD);
  const rows = fleetRows(list.items, clock());
  if (!config.checkReady) {
    out.write(config.output === 'text' ? renderFleetText(rows, clock()) : await renderData({ items: rows }, config.output));
    return 0;
  }
  const agents = await apiCall(cluster, `listing the agent pods (${config.agentSelector}) in namespace ${cluster.namespace}`, () =>
    listAgentPods(cluster.api, cluster.namespace, config.agentSelector),
  );
  const readiness = checkAgentsReady(agents, rows);
  out.write(
    config.output === 'text'
      ? `${renderFleetText(rows, clock())}\n${renderReadinessText(readiness)}`
      : await renderData({ items: rows, readiness }, config.output),
  );
  return readiness.ok ? 0 : 2;
}

// The agent's ClusterRole exactly as the chart renders it: the kube end-to-end
// tests bind their agent's token to this role, so they run with the
// permissions a real install grants, no more.
import { findObject, renderChart, type K8sObject } from './render.js';

export async function renderAgentClusterRole(): Promise<K8sObject> {
  const { objects } = await renderChart();
  return findObject(objects, 'ClusterRole', 'conntrack-operator-agent');
}

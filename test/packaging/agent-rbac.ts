// The agent's ClusterRole exactly as the chart renders it: the kube end-to-end
// tests bind their agent's token to this role, so they run with the
// permissions a real install grants, no more.
import { componentObject, renderChart, type K8sObject } from './render.js';

/** `sets`: chart values that change the role (e.g. agent.podNames=false). */
export async function renderAgentClusterRole(sets: string[] = []): Promise<K8sObject> {
  const { objects } = await renderChart(sets);
  return componentObject(objects, 'ClusterRole', 'agent');
}

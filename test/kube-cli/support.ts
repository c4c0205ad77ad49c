// A cluster for the kubectl plugin's tests: the API server (the in-process
// test server, or a real kube-apiserver with KUBEBUILDER_ASSETS), our CRDs,
// the agents' namespace, ConntrackStatus objects as agents write them, and
// agent pods as the DaemonSet controller and the kubelet would leave them
// (no kubelet runs here: the pods are objects, their status written by us).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { buildCrds } from '../../src/api/v1alpha1/crds.js';
import { runKubectlStatus } from '../../src/cli/kubectl-status.js';
import { loadConfig } from '../../src/config.js';
import type { UserInfo } from '../support/kube/auth-types.js';
import { createCrd, startApi, type TestApi } from '../support/kube/harness.js';

export const AGENT_NS = 'conntrack-operator';
/** The chart's agent pod labels for release "ctop". */
export const AGENT_LABELS = { 'app.kubernetes.io/name': 'conntrack-operator', 'app.kubernetes.io/instance': 'ctop', 'app.kubernetes.io/component': 'agent' };

export async function ok(api: TestApi, method: string, path: string, body?: object): Promise<any> {
  const r = await api.request(method, path, body ? { body } : {});
  assert.ok(r.status < 300, `${method} ${path}: HTTP ${r.status} ${r.text}`);
  return r.body;
}

export async function startPluginCluster(opts: { users?: UserInfo[]; crds?: boolean } = {}): Promise<TestApi> {
  const api = await startApi({ users: opts.users ?? [] });
  if (opts.crds !== false) for (const crd of buildCrds()) await createCrd(api, crd as unknown as Record<string, any>);
  await ok(api, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: AGENT_NS } });
  return api;
}

export interface StatusSpec {
  count: number;
  max?: number;
  ready?: 'True' | 'False';
  readyReason?: string;
  /** The namespaces' rows (the fallback when the agent reports no fullest namespace). */
  top?: Array<{ inode: number; entries: number; podNamespace?: string; podName?: string; podUid?: string }>;
  policy?: string;
  lastProbeTime?: string;
}

/** A ConntrackStatus's status as an agent writes it, valid against the CRD's schema. */
export function statusDoc(node: string, s: StatusSpec): Record<string, unknown> {
  const max = s.max ?? 262144;
  const pct = (n: number) => Math.round((n / max) * 10000) / 100;
  const at = s.lastProbeTime ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string, status: string, reason: string) => ({
    type,
    status,
    reason,
    message: `${type} ${status}`,
    lastTransitionTime: at,
    observedGeneration: 1,
  });
  return {
    nodeName: node,
    lastProbeTime: at,
    kernel: { release: '6.18', conntrackLoaded: true, notrackBackend: 'nftables', tableSource: 'procfs' },
    table: { count: s.count, max, buckets: 65536, usagePercent: pct(s.count), usage: `${Math.round(pct(s.count))}%` },
    ...(s.policy ? { appliedPolicy: { name: s.policy, policies: [{ name: s.policy, generation: 1 }], mode: 'Enforce' } } : {}),
    ...(s.top ? { namespaces: { count: s.top.length + 1, top: s.top.map((r) => ({ ...r, usagePercent: pct(r.entries) })), full: [], pressure: [] } } : {}),
    driftCount: 0,
    conditions: [condition('Ready', s.ready ?? 'True', s.readyReason ?? (s.ready === 'False' ? 'TableFull' : 'Ready'))],
  };
}

/** Creates (or replaces) the node's ConntrackStatus with this status, as an agent does: the object, then /status. */
export async function putStatus(api: TestApi, node: string, s: StatusSpec): Promise<void> {
  const path = `/apis/conntrack.io/v1alpha1/conntrackstatuses`;
  const existing = await api.request('GET', `${path}/${node}`);
  const object =
    existing.status === 200
      ? existing.body
      : await ok(api, 'POST', path, { apiVersion: 'conntrack.io/v1alpha1', kind: 'ConntrackStatus', metadata: { name: node } });
  await ok(api, 'PUT', `${path}/${node}/status`, { ...object, status: statusDoc(node, s) });
}

export interface PodSpec {
  name: string;
  node?: string;
  phase?: 'Pending' | 'Running' | 'Failed';
  labels?: Record<string, string>;
  args?: string[];
  startTime?: string;
}

/** An agent pod as the DaemonSet makes it, and its status as a kubelet would write it. */
export async function putAgentPod(api: TestApi, p: PodSpec, namespace = AGENT_NS): Promise<void> {
  const created = await ok(api, 'POST', `/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, labels: p.labels ?? AGENT_LABELS },
    spec: {
      ...(p.node ? { nodeName: p.node } : {}),
      containers: [
        { name: 'agent', image: 'conntrack-operator:test', args: p.args ?? ['agent', '--kubernetes', '--proc-root=/host/proc', '--sys-root=/host/sys'] },
      ],
    },
  });
  const phase = p.phase ?? 'Running';
  if (phase === 'Pending') return;
  await ok(api, 'PUT', `/api/v1/namespaces/${namespace}/pods/${p.name}/status`, {
    ...created,
    status: { phase, startTime: p.startTime ?? new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z') },
  });
}

/** Runs `kubectl conntrack status ARGV` in this process (as main.ts does, less the exit): its output and exit code, or its error thrown. */
export async function runStatus(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  const config = loadConfig(['kubectl', 'status', ...argv], env, 'unused');
  let out = '';
  const sink = new Writable({ write: (chunk, _enc, cb) => ((out += String(chunk)), cb()) });
  const code = await runKubectlStatus(config, sink);
  return { code, out };
}

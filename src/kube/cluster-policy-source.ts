// Policies and this node's labels and pod ranges (spec.podCIDRs) from the API,
// for the agent. Both are watched (list + watch, relist on 410, backoff), and
// the last good set is kept in the state dir: an agent restarted while the API
// server is down still enforces what it enforced before.
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import type { PolicySnapshot, PolicySource } from '../agent/policy-source.js';
import { PolicyCache } from '../agent/policy-cache.js';
import { formatPolicyErrors } from '../policy/errors.js';
import type { Log } from '../logger.js';
import { validPolicies } from '../policy/load.js';
import type { Labels } from '../policy/select.js';
import { POLICY_RESOURCE } from '../api/v1alpha1/names.js';
import type { ClusterApi, CustomObject } from './cluster-api.js';
import { Reflector, type KubeObject, type ReflectorTiming } from './reflector.js';
import type { RangeKnowledge } from '../policy/cluster-cidrs.js';
import { cidrListProblem } from '../policy/cidr.js';

export interface NodeRef {
  name: string;
  uid: string;
}

/** What is kept besides the policies (policy-cache.ts): this Node's labels, uid and spec.podCIDRs (absent when not read). */
interface KeptNode {
  nodeLabels: Labels;
  nodeUid?: string;
  podCidrs?: string[];
}

const CACHE_FILE = 'cluster-cache.json';

export class ClusterPolicySource implements PolicySource {
  private snapshot: PolicySnapshot = { policies: [] };
  private labels: Labels = {};
  private uid: string | null = null;
  /** The Node's spec.podCIDRs ([] when it has none); null until the Node is read. */
  private podCidrs: string[] | null = null;
  private listeners: Array<() => void> = [];
  private readonly policyReflector: Reflector<CustomObject>;
  private readonly nodeReflector: Reflector<KubeObject>;
  private readonly cache: PolicyCache;
  private saving: Promise<void> = Promise.resolve();
  private cacheLoaded = false;

  constructor(
    api: ClusterApi,
    private readonly nodeName: string,
    stateDir: string,
    timing: ReflectorTiming,
    private readonly log: Log,
  ) {
    this.cache = new PolicyCache(join(stateDir, CACHE_FILE), log);
    this.policyReflector = new Reflector(api.customListWatch(POLICY_RESOURCE.plural), (store) => this.onPolicies([...store.values()]), timing, log);
    this.nodeReflector = new Reflector(api.nodeListWatch(nodeName), (store) => this.onNode(store.get(nodeName)), timing, log);
  }

  current(): PolicySnapshot {
    return this.snapshot;
  }

  nodeLabels(): Labels {
    return this.labels;
  }

  nodeRef(): NodeRef | null {
    return this.uid ? { name: this.nodeName, uid: this.uid } : null;
  }

  /** This node's pod ranges, as its Node states them (kube-controller-manager's IPAM writes them; many CNIs keep their own). */
  podRanges(): RangeKnowledge {
    if (this.podCidrs === null) return { cidrs: null, why: 'this Node has not been read from the API yet' };
    if (this.podCidrs.length === 0) return { cidrs: null, why: "this Node has no spec.podCIDRs (pod addresses come from the CNI's own IPAM)" };
    return { cidrs: this.podCidrs, from: 'Node spec.podCIDRs' };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const kept = await this.cache.load();
    if (kept) {
      const node = keptNode(kept.record);
      this.cacheLoaded = true;
      this.snapshot = { policies: kept.policies };
      this.labels = node.nodeLabels;
      this.uid = node.nodeUid ?? null;
      this.podCidrs = node.podCidrs ?? null;
      this.log.info({ policies: kept.policies.map((p) => p.metadata.name) }, 'using the last known policies until the API answers');
    }
    this.policyReflector.start();
    this.nodeReflector.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.policyReflector.stop(), this.nodeReflector.stop()]);
    await this.saving;
  }

  private onPolicies(items: CustomObject[]): void {
    const { policies, errors } = validPolicies(items);
    const next = { policies, ...(errors.length ? { error: formatPolicyErrors(errors) } : {}) };
    if (isDeepStrictEqual(next, this.snapshot)) return; // a relist or a status write of a policy: no change
    this.snapshot = next;
    this.changed();
  }

  private onNode(node: KubeObject | undefined): void {
    if (!node) {
      // Deleted or not registered yet: keep the labels we knew rather than deselect every policy.
      this.log.warn({ node: this.nodeName }, 'this Node is not in the API; keeping its last known labels');
      return;
    }
    const meta = (node.metadata ?? {}) as { labels?: Labels; uid?: string };
    const labels = meta.labels ?? {};
    const uid = meta.uid ?? null;
    const spec = (node['spec'] ?? {}) as { podCIDRs?: string[]; podCIDR?: string };
    // podCIDR is the older single-family field; the API server keeps it equal to podCIDRs[0].
    const podCidrs = spec.podCIDRs?.length ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [];
    if (isDeepStrictEqual(labels, this.labels) && uid === this.uid && isDeepStrictEqual(podCidrs, this.podCidrs)) return; // a status update of the Node: nothing for us
    this.labels = labels;
    this.uid = uid;
    this.podCidrs = podCidrs;
    this.changed();
  }

  ready(): boolean {
    return this.cacheLoaded || (this.policyReflector.hasSynced && this.nodeReflector.hasSynced);
  }

  private changed(): void {
    // One save at a time, in order: the last view wins.
    this.saving = this.saving.then(() => this.saveCache());
    for (const l of this.listeners) l();
  }

  private async saveCache(): Promise<void> {
    const node: KeptNode = {
      nodeLabels: this.labels,
      ...(this.uid ? { nodeUid: this.uid } : {}),
      ...(this.podCidrs ? { podCidrs: this.podCidrs } : {}),
    };
    await this.cache.save(this.snapshot.policies, { ...node });
  }
}

/** The node fields of a kept record, each used only when well-formed: a label map of strings, a uid, valid pod ranges. */
function keptNode(record: Record<string, unknown>): KeptNode {
  const { nodeLabels, nodeUid, podCidrs } = record;
  const labels =
    typeof nodeLabels === 'object' && nodeLabels !== null && !Array.isArray(nodeLabels) && Object.values(nodeLabels).every((v) => typeof v === 'string')
      ? (nodeLabels as Labels)
      : {};
  const cidrs = Array.isArray(podCidrs) && podCidrs.every((c) => typeof c === 'string') && cidrListProblem(podCidrs) === undefined ? podCidrs : undefined;
  return { nodeLabels: labels, ...(typeof nodeUid === 'string' ? { nodeUid } : {}), ...(cidrs ? { podCidrs: cidrs } : {}) };
}

// Writes this node's ConntrackStatus: created once (owned by the Node, so it
// goes with it), then only its status subresource, only when worth it
// (status-throttle.ts), retrying conflicts by re-reading.
import { GROUP_VERSION, STATUS_RESOURCE } from '../api/v1alpha1/names.js';
import type { NodeStatusDoc } from '../api/v1alpha1/status.js';
import { writeReason, type WriteReason } from '../report/status-throttle.js';
import type { ClusterApi, CustomObject } from './cluster-api.js';
import type { NodeRef } from './cluster-policy-source.js';
import { statusCode } from '../errors.js';
import type { Clock } from '../clock.js';

const MAX_CONFLICT_RETRIES = 3;

export class StatusPublisher {
  private object: CustomObject | null = null;
  private last: { status: NodeStatusDoc; at: number } | null = null;

  constructor(
    private readonly api: Pick<ClusterApi, 'getCustom' | 'createCustom' | 'replaceCustomStatus'>,
    private readonly nodeName: string,
    private readonly nodeRef: () => NodeRef | null,
    private readonly now: Clock,
  ) {}

  /** Write the status if it changed meaningfully (or a heartbeat is due); returns why it wrote, or null. */
  async publish(status: NodeStatusDoc): Promise<WriteReason | null> {
    const reason = writeReason(this.last, status, this.now());
    if (!reason) return null;
    for (let attempt = 0; ; attempt++) {
      try {
        const current = this.object ?? (await this.api.getCustom(STATUS_RESOURCE.plural, this.nodeName)) ?? (this.nodeRef() ? await this.create() : null);
        // Not created before the Node is known: it must be owned by the Node, or it outlives it.
        if (!current) return null;
        this.object = await this.api.replaceCustomStatus(STATUS_RESOURCE.plural, { ...current, status });
        this.last = { status, at: this.now() };
        return reason;
      } catch (err) {
        const code = statusCode(err);
        if ((code !== 409 && code !== 404) || attempt >= MAX_CONFLICT_RETRIES) throw err;
        this.object = null; // someone else wrote or deleted it: read again
      }
    }
  }

  private async create(): Promise<CustomObject> {
    const node = this.nodeRef();
    const body: CustomObject = {
      apiVersion: GROUP_VERSION,
      kind: STATUS_RESOURCE.kind,
      metadata: {
        name: this.nodeName,
        labels: { 'app.kubernetes.io/managed-by': 'conntrack-operator' },
        // Owned by the Node: deleting the Node deletes its status (kube-controller-manager's GC).
        ...(node ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }] } : {}),
      },
    };
    try {
      return await this.api.createCustom(STATUS_RESOURCE.plural, body);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      const existing = await this.api.getCustom(STATUS_RESOURCE.plural, this.nodeName);
      if (!existing) throw err;
      return existing;
    }
  }
}

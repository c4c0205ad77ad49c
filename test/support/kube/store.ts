// Object storage with a global resourceVersion counter and a bounded event history, like
// etcd behind the watch cache: watches replay history after a resourceVersion, and a
// resourceVersion older than the retained window is "too old" (410 Expired).
import type { JsonObject } from './schema-walk.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  rv: number;
  /** "group/resource" of the object. */
  gr: string;
  object: JsonObject;
  /** The object before this change (MODIFIED, DELETED), for selector transitions. */
  previous?: JsonObject;
}

/** kube-apiserver's watch cache holds a bounded window of events. */
const HISTORY_LIMIT = 5000;
/** RVs start above 1 so that tiny RVs are already too old, as on a real cluster (capture 51). */
const FIRST_RV = 100;

export function grKey(group: string, resource: string): string {
  return `${group}/${resource}`;
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function metaOf(obj: JsonObject): Record<string, any> {
  return (obj.metadata ?? {}) as Record<string, any>;
}

export class ObjectStore {
  private rv = FIRST_RV;
  private readonly objects = new Map<string, Map<string, JsonObject>>();
  private history: StoreEvent[] = [];
  /** Watches may start from any RV >= this (events after it are all retained). */
  private oldestWatchableRv = FIRST_RV;
  private readonly listeners = new Set<(event: StoreEvent) => void>();

  currentRv(): number {
    return this.rv;
  }

  nextRv(): number {
    this.rv += 1;
    return this.rv;
  }

  get(gr: string, namespace: string, name: string): JsonObject | undefined {
    return this.objects.get(gr)?.get(objectKey(namespace, name));
  }

  /** Objects of one group/resource, optionally in one namespace, ordered by namespace/name. */
  list(gr: string, namespace?: string): JsonObject[] {
    const all = [...(this.objects.get(gr)?.entries() ?? [])].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return all.map(([, obj]) => obj).filter((obj) => namespace === undefined || (metaOf(obj).namespace ?? '') === namespace);
  }

  /** Stores the object (its metadata.resourceVersion already set) and records the event. */
  put(gr: string, obj: JsonObject, type: 'ADDED' | 'MODIFIED', previous?: JsonObject): void {
    const meta = metaOf(obj);
    let bucket = this.objects.get(gr);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(gr, bucket);
    }
    bucket.set(objectKey(meta.namespace ?? '', meta.name), obj);
    this.record({ type, rv: Number(meta.resourceVersion), gr, object: obj, ...(previous ? { previous } : {}) });
  }

  /** Removes the object; the DELETED event carries it with a fresh resourceVersion. */
  remove(gr: string, obj: JsonObject): void {
    const meta = metaOf(obj);
    this.objects.get(gr)?.delete(objectKey(meta.namespace ?? '', meta.name));
    this.record({ type: 'DELETED', rv: Number(meta.resourceVersion), gr, object: obj, previous: obj });
  }

  private record(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > HISTORY_LIMIT) {
      const dropped = this.history.splice(0, this.history.length - HISTORY_LIMIT);
      this.oldestWatchableRv = dropped[dropped.length - 1]!.rv;
    }
    for (const listener of this.listeners) listener(event);
  }

  /** Events of gr after rv, or the oldest watchable RV when rv is too old. */
  eventsSince(gr: string, rv: number): StoreEvent[] | { tooOld: number } {
    if (rv < this.oldestWatchableRv) return { tooOld: this.oldestWatchableRv };
    return this.history.filter((e) => e.gr === gr && e.rv > rv);
  }

  isTooOld(rv: number): boolean {
    return rv < this.oldestWatchableRv;
  }

  /** Forgets all history: every RV handed out so far becomes too old (fault injection). */
  compact(): void {
    // Move past every RV handed out, so they are strictly older than what remains watchable.
    this.rv += 1;
    this.history = [];
    this.oldestWatchableRv = this.rv;
  }

  subscribe(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

// Watch streams: one JSON event per line over a chunked 200 response (capture 50).
// A too-old resourceVersion is an ERROR event carrying a 410 Expired Status inside the
// 200 stream (capture 51); objects leaving a selector are sent as DELETED.
import type { ServerResponse } from 'node:http';
import { apiVersionOf, type ResourceInfo } from './resources.js';
import { clone, type JsonObject } from './schema-walk.js';
import type { Matcher } from './selectors.js';
import { grKey, metaOf, type ObjectStore, type StoreEvent } from './store.js';
import { expired, fieldErrors, invalid, statusBody } from './status-errors.js';
import { toTable } from './table.js';
import { toWire } from './wire-format.js';

export interface WatchRequest {
  info: ResourceInfo;
  namespace: string;
  matches: Matcher;
  resourceVersion: string;
  bookmarks: boolean;
  timeoutSeconds: number;
  /** Accept asked for meta.k8s.io Tables (kubectl get -w): objects become one-row Tables. */
  table?: { includeObject: string };
  /** A watch-list (sendInitialEvents=true): refused inside the stream, as the reference server does. */
  watchList?: boolean;
}

/**
 * Watch-list (KEP-3157: sendInitialEvents=true, the initial state as events ending in a bookmark
 * annotated k8s.io/initial-events-end) as the reference kube-apiserver 1.32 on Debian's etcd answers
 * it: sendInitialEvents needs resourceVersionMatch=NotOlderThan (422 otherwise), and then the watch
 * fails inside its 200 stream, 500 "RequestWatchProgress is disabled" (that etcd lacks progress
 * notifications). client-go (kubectl, helm) then falls back to list and watch; a server that
 * ignored the parameter would leave it waiting for the bookmark that ends the initial events.
 */
export function isWatchList(query: URLSearchParams): boolean {
  const send = query.get('sendInitialEvents');
  if (send === null) return false;
  if (query.get('resourceVersionMatch') !== 'NotOlderThan') {
    throw invalid({ kind: 'ListOptions', group: 'meta.k8s.io' }, '', [
      fieldErrors.forbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'),
    ]);
  }
  return send === 'true';
}

export interface WatchTiming {
  bookmarkIntervalMs: number;
}

/** Open watch streams, so faults can cut them and stop() can end them. */
/** The watch cache sends an object leaving the selector as it last matched, at the change's resourceVersion. */
function leftSelector(event: StoreEvent): JsonObject {
  const last = clone(event.previous!);
  metaOf(last).resourceVersion = String(event.rv);
  return last;
}

export class WatchHub {
  private readonly open = new Set<ServerResponse>();

  constructor(
    private readonly store: ObjectStore,
    private readonly timing: WatchTiming,
  ) {}

  get openCount(): number {
    return this.open.size;
  }

  /** Drops every open watch connection without a clean end, like a dying apiserver or LB. */
  cutAll(): number {
    const count = this.open.size;
    for (const res of this.open) res.socket?.destroy();
    this.open.clear();
    return count;
  }

  endAll(): void {
    for (const res of this.open) res.end();
    this.open.clear();
  }

  serve(req: WatchRequest, res: ServerResponse): void {
    const gr = grKey(req.info.group, req.info.resource);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // Clients wait for the status line before they start acting; send it now, as kube-apiserver does.
    res.flushHeaders();
    const send = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    if (req.watchList) {
      send(
        'ERROR',
        statusBody(500, 'InternalError', 'a watch stream was requested by the client but the required storage feature RequestWatchProgress is disabled'),
      );
      res.end();
      return;
    }
    let headersSent = false;
    // As kube-apiserver does, only the first Table of a watch carries the column definitions.
    const asEvent = (obj: JsonObject): JsonObject => {
      if (!req.table) return toWire(req.info, obj);
      const table = toTable(req.info, [toWire(req.info, obj)], { resourceVersion: metaOf(obj).resourceVersion }, req.table.includeObject);
      if (headersSent) table.columnDefinitions = [];
      headersSent = true;
      return table;
    };
    const inScope = (obj: JsonObject) => !req.info.namespaced || !req.namespace || metaOf(obj).namespace === req.namespace;
    const visible = (obj: JsonObject | undefined) => obj !== undefined && inScope(obj) && req.matches(obj);

    const deliver = (event: StoreEvent) => {
      if (event.gr !== gr) return;
      const now = visible(event.object);
      const before = event.type !== 'ADDED' && visible(event.previous);
      if (event.type === 'DELETED') {
        if (before || now) send('DELETED', asEvent(event.object));
      } else if (now && before) send('MODIFIED', asEvent(event.object));
      else if (now) send('ADDED', asEvent(event.object));
      else if (before) send('DELETED', asEvent(leftSelector(event)));
    };

    const rv = req.resourceVersion;
    if (rv === '' || rv === '0') {
      for (const obj of this.store.list(gr)) if (visible(obj)) send('ADDED', asEvent(obj));
    } else {
      const since = this.store.eventsSince(gr, Number(rv));
      if ('tooOld' in since) {
        send('ERROR', expired(`too old resource version: ${rv} (${since.tooOld})`));
        res.end();
        return;
      }
      since.forEach(deliver);
    }

    this.open.add(res);
    const unsubscribe = this.store.subscribe(deliver);
    const bookmark = () =>
      send('BOOKMARK', { kind: req.info.kind, apiVersion: apiVersionOf(req.info), metadata: { resourceVersion: String(this.store.currentRv()) } });
    const ticker = req.bookmarks ? setInterval(bookmark, this.timing.bookmarkIntervalMs) : undefined;
    const timer = setTimeout(() => {
      // The watch cache sends a last bookmark before a watch times out (capture 50).
      if (req.bookmarks) bookmark();
      res.end();
    }, req.timeoutSeconds * 1000);
    const cleanup = () => {
      unsubscribe();
      clearTimeout(timer);
      if (ticker) clearInterval(ticker);
      this.open.delete(res);
    };
    res.on('close', cleanup);
    res.on('finish', cleanup);
  }
}

// An in-process Kubernetes API server for tests: HTTPS on 127.0.0.1 (a fresh self-signed
// certificate; kubectl sends bearer tokens only over TLS) with bearer tokens, speaking the wire protocol of kube-apiserver closely enough that
// @kubernetes/client-node and kubectl work against it (see kube-wire/ for the reference).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { load as loadYaml } from 'js-yaml';
import type { UserInfo } from './auth-types.js';
import { selfSubjectAccessReview, subjectAccessReview, tokenReview } from './access-review.js';
import { BuiltinFields } from './builtin-fields.js';
import { Authenticator, Authorizer } from './authn.js';
import { Faults, type RequestSummary } from './faults.js';
import { bootstrapRbacObjects, SYSTEM_MASTERS } from './rbac.js';
import { readListAt, TOO_LARGE_RV_WAIT_MS } from './list-rv.js';
import { ResourceRegistry } from './registry.js';
import { ResourceApi, type ResourceRequest } from './rest.js';
import { selfSignedCert } from '../../../src/self-signed-cert.js';
import { attributesOf, parseRoute, type ResourceRoute } from './routes.js';
import { NonResourceApi } from './non-resource.js';
import { decodeProtobuf, PROTOBUF } from './protobuf.js';
import type { Json } from './schema-walk.js';
import { selectorsOf } from './selectors.js';
import { ObjectStore } from './store.js';
import { ApiError, badRequest, methodNotAllowed, PageNotFound, statusBody, unsupportedMediaType } from './status-errors.js';
import { toTable, wantsTable } from './table.js';
import { isWatchList, WatchHub } from './watch.js';
import { SERVICE_CLUSTER_IP_RANGE } from './envtest.js';

export interface TestApiServerOptions {
  /** Authorize through the stored RBAC objects (default true); off, every authenticated user may do anything. */
  rbac?: boolean;
  /** Token -> identity, in addition to the admin token. */
  tokens?: Record<string, UserInfo>;
  /** The admin token (user "admin", group system:masters); random when omitted. */
  adminToken?: string;
  /** Server-side timeout of a watch without timeoutSeconds (kube-apiserver: 1800-3600 s). */
  defaultWatchTimeoutSeconds?: number;
  /** How often open watches that asked for bookmarks get one (kube-apiserver: about a minute). */
  bookmarkIntervalMs?: number;
  /** How long a list waits for a resourceVersion the server has not reached before its 504 (kube-apiserver: 3 s). */
  tooLargeResourceVersionWaitMs?: number;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  query: string;
  /** The authenticated user, '' when authentication failed. */
  user: string;
  userAgent: string;
  /** HTTP status; a watch logs 200 when its stream opens. */
  status: number;
}

export interface TestApiServer {
  /** https://127.0.0.1:<port> */
  url: string;
  /** Base64 PEM of the self-signed serving certificate, for certificate-authority-data. */
  caData: string;
  adminToken: string;
  addToken(token: string, user: UserInfo): void;
  faults: Faults;
  store: ObjectStore;
  registry: ResourceRegistry;
  /** Every request, in arrival order. */
  requests: RequestLogEntry[];
  /** Number of watch streams currently open. */
  openWatches(): number;
  stop(): Promise<void>;
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Decodes a POST/PUT/DELETE body: JSON, YAML, or protobuf from typed client-go clients. */
function decodeBody(body: Buffer, contentType: string): Json {
  const type = contentType.split(';')[0]!.trim();
  if (type === PROTOBUF) return body.length === 0 ? null : decodeProtobuf(body);
  const raw = body.toString('utf8');
  if (raw.trim() === '') return null;
  if (type === 'application/yaml') return loadYaml(raw) as Json;
  if (type !== '' && type !== 'application/json' && type !== '*/*') throw unsupportedMediaType(type, ['application/json', 'application/yaml', PROTOBUF]);
  try {
    return JSON.parse(raw) as Json;
  } catch (err) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
  }
}

/** kube-apiserver's default field manager: the user agent's program name. */
function managerOf(query: URLSearchParams, userAgent: string): string {
  return query.get('fieldManager') ?? (userAgent.split('/')[0]?.trim() || 'unknown');
}

function sendJson(res: ServerResponse, status: number, body: unknown, contentType = 'application/json'): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) });
  res.end(payload);
}

class ApiServer {
  readonly store = new ObjectStore();
  readonly registry = new ResourceRegistry();
  readonly requests: RequestLogEntry[] = [];
  readonly authn = new Authenticator();
  readonly watches: WatchHub;
  readonly faults: Faults;
  private readonly authz: Authorizer;
  private readonly api: ResourceApi;
  private readonly nonResource: NonResourceApi;

  constructor(
    private readonly opts: TestApiServerOptions,
    private readonly serverAddress: () => string,
    builtins: BuiltinFields,
  ) {
    this.watches = new WatchHub(this.store, { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 60_000 });
    this.faults = new Faults(this.store, this.watches);
    this.authz = new Authorizer(opts.rbac ?? true, this.store, this.registry);
    this.api = new ResourceApi(this.store, this.registry, builtins);
    this.nonResource = new NonResourceApi(this.registry, serverAddress);
    this.seed();
  }

  /** What a fresh cluster has: the default namespaces, the bootstrap RBAC policy and the default ServiceCIDR. */
  private seed(): void {
    const system: ResourceRequest = {
      info: this.registry.find('', 'v1', 'namespaces')!,
      namespace: '',
      query: new URLSearchParams(),
      manager: 'kube-apiserver',
      warnings: [],
    };
    for (const name of DEFAULT_NAMESPACES) this.api.create(system, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    for (const obj of bootstrapRbacObjects()) {
      const resource = obj.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings';
      this.api.create({ ...system, info: this.registry.find('rbac.authorization.k8s.io', 'v1', resource)! }, obj as Json);
    }
    // kube-apiserver's own controller makes "kubernetes" from --service-cluster-ip-range and marks it Ready.
    const serviceCidrs = { ...system, info: this.registry.find('networking.k8s.io', 'v1beta1', 'servicecidrs')! };
    const defaultCidr = {
      apiVersion: 'networking.k8s.io/v1beta1',
      kind: 'ServiceCIDR',
      metadata: { name: 'kubernetes' },
      spec: { cidrs: [SERVICE_CLUSTER_IP_RANGE] },
    };
    const created = this.api.create(serviceCidrs, defaultCidr).body as Record<string, any>;
    const ready = {
      type: 'Ready',
      status: 'True',
      lastTransitionTime: created.metadata.creationTimestamp,
      reason: '',
      message: 'Kubernetes default Service CIDR is ready',
    };
    this.api.update({ ...serviceCidrs, name: 'kubernetes', subresource: 'status', manager: 'kubernetes-service-cidr-controller' }, {
      ...created,
      status: { conditions: [ready] },
    } as Json);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = req.method ?? 'GET';
    const userAgent = req.headers['user-agent'] ?? '';
    const entry: RequestLogEntry = { method, path: url.pathname, query: url.search, user: '', userAgent, status: 0 };
    this.requests.push(entry);
    const summary: RequestSummary = { method, path: url.pathname, query: url.searchParams };
    const warnings: string[] = [];
    try {
      const delay = this.faults.delayFor(summary);
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const user = this.authn.authenticate(req.headers.authorization);
      entry.user = user.name;
      const route = parseRoute(url.pathname, (g, v, r) => this.registry.find(g, v, r) !== undefined);
      this.authz.check(user, attributesOf(method, route, url.searchParams));
      const injected = this.faults.take(summary);
      if (injected) throw injected;
      if (route.kind === 'nonResource') {
        const reply = this.nonResource.handle(url, req.headers.accept);
        entry.status = reply.status;
        if (typeof reply.body === 'string') {
          res.writeHead(reply.status, { 'Content-Type': reply.contentType });
          res.end(reply.body);
        } else sendJson(res, reply.status, reply.body, reply.contentType);
        return;
      }
      await this.handleResource(req, res, route, url, warnings, entry, user);
    } catch (err) {
      const apiError = err instanceof ApiError ? err : new ApiError(statusBody(500, 'InternalError', `Internal error occurred: ${(err as Error).message}`));
      entry.status = apiError.code;
      for (const [k, v] of Object.entries(apiError.headers)) res.setHeader(k, v);
      if (warnings.length > 0)
        res.setHeader(
          'Warning',
          warnings.map((w) => `299 - ${JSON.stringify(w)}`),
        );
      if (res.headersSent) return;
      if (apiError instanceof PageNotFound) {
        res.writeHead(404, apiError.text ? { 'Content-Type': 'text/plain; charset=utf-8' } : {});
        res.end(apiError.text);
      } else sendJson(res, apiError.code, apiError.status);
    }
  }

  private async handleResource(
    req: IncomingMessage,
    res: ServerResponse,
    route: ResourceRoute,
    url: URL,
    warnings: string[],
    entry: RequestLogEntry,
    user: UserInfo,
  ): Promise<void> {
    const info = this.registry.find(route.group, route.version, route.resource);
    const notServed = new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
    if (!info) throw this.registry.all().some((r) => r.group === route.group) ? notServed : new PageNotFound();
    if (!info.namespaced && route.namespace) throw notServed;
    // A namespaced object is only addressable inside its namespace.
    if (info.namespaced && !route.namespace && route.name !== undefined) throw notServed;
    const query = url.searchParams;
    const rr: ResourceRequest = {
      info,
      namespace: route.namespace,
      query,
      manager: managerOf(query, req.headers['user-agent'] ?? ''),
      warnings,
      ...(route.name !== undefined ? { name: route.name } : {}),
      ...(route.subresource !== undefined ? { subresource: route.subresource } : {}),
    };
    const method = req.method ?? 'GET';
    const verb = attributesOf(method, route, query).verb;
    if (!route.subresource && !info.verbs.includes(verb)) throw methodNotAllowed();
    if (verb === 'watch') {
      const timeout = Number(query.get('timeoutSeconds') ?? this.opts.defaultWatchTimeoutSeconds ?? 1800);
      const watchList = isWatchList(query);
      entry.status = 200;
      this.watches.serve(
        {
          info,
          namespace: route.namespace,
          resourceVersion: query.get('resourceVersion') ?? '',
          matches: selectorsOf(query, info),
          bookmarks: query.get('allowWatchBookmarks') === 'true',
          timeoutSeconds: timeout,
          watchList,
          ...(wantsTable(req.headers.accept) ? { table: { includeObject: query.get('includeObject') ?? 'Metadata' } } : {}),
        },
        res,
      );
      return;
    }
    const raw = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method) ? await readBody(req) : Buffer.alloc(0);
    const contentType = req.headers['content-type'] ?? '';
    let reply;
    switch (verb) {
      case 'get':
      case 'list': {
        reply =
          verb === 'get'
            ? this.api.get(rr)
            : this.api.list({ ...rr, query: await readListAt(query, this.store, this.opts.tooLargeResourceVersionWaitMs ?? TOO_LARGE_RV_WAIT_MS) });
        if (wantsTable(req.headers.accept)) reply = { status: 200, body: this.asTable(rr, reply.body as Record<string, any>, verb) };
        break;
      }
      case 'create':
        reply = this.create(rr, decodeBody(raw, contentType), user);
        break;
      case 'update':
        reply = this.api.update(rr, decodeBody(raw, contentType));
        break;
      case 'patch':
        reply = this.api.patch(rr, raw.toString('utf8'), contentType);
        break;
      case 'delete':
        reply = this.api.delete(rr, decodeBody(raw, contentType));
        break;
      case 'deletecollection':
        reply = this.api.deleteCollection(rr, decodeBody(raw, contentType));
        break;
      default:
        throw methodNotAllowed();
    }
    entry.status = reply.status;
    if (warnings.length > 0)
      res.setHeader(
        'Warning',
        warnings.map((w) => `299 - ${JSON.stringify(w)}`),
      );
    sendJson(res, reply.status, reply.body);
  }

  /** A create; the review kinds are answered, not stored. */
  private create(rr: ResourceRequest, body: Json, user: UserInfo): { status: number; body: unknown } {
    switch (rr.info.kind) {
      case 'SelfSubjectAccessReview':
        return { status: 201, body: selfSubjectAccessReview(this.authz, user, body) };
      case 'SubjectAccessReview':
        return { status: 201, body: subjectAccessReview(this.authz, body) };
      case 'TokenReview':
        // kube-apiserver's own service account issuer, as envtest.ts sets it.
        return { status: 201, body: tokenReview(this.authn, body, `https://${this.serverAddress()}/`) };
      default:
        return this.api.create(rr, body);
    }
  }

  private asTable(rr: ResourceRequest, body: Record<string, any>, verb: string): unknown {
    const include = rr.query.get('includeObject') ?? 'Metadata';
    if (verb === 'get') return toTable(rr.info, [body], { resourceVersion: body.metadata.resourceVersion }, include);
    const { metadata } = body;
    const listMeta: Record<string, Json> = { resourceVersion: metadata.resourceVersion };
    if (metadata.continue) listMeta.continue = metadata.continue;
    if (metadata.remainingItemCount !== undefined) listMeta.remainingItemCount = metadata.remainingItemCount;
    // List items of built-ins lose kind/apiVersion on the wire; the table's rows do not need them.
    return toTable(rr.info, body.items, listMeta, include);
  }
}

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  let address = '';
  const api = new ApiServer(opts, () => address, await BuiltinFields.load());
  const adminToken = opts.adminToken ?? randomBytes(16).toString('hex');
  api.authn.addToken(adminToken, { name: 'admin', groups: [SYSTEM_MASTERS] });
  for (const [token, user] of Object.entries(opts.tokens ?? {})) api.authn.addToken(token, user);
  const sockets = new Set<Duplex>();
  const cert = selfSignedCert({ commonName: 'conntrack-test-apiserver' });
  const server: Server = createServer({ key: cert.keyPem, cert: cert.certPem }, (req, res) => void api.handle(req, res));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  address = `127.0.0.1:${port}`;
  return {
    url: `https://${address}`,
    caData: cert.caData,
    adminToken,
    addToken: (token, user) => api.authn.addToken(token, user),
    faults: api.faults,
    store: api.store,
    registry: api.registry,
    requests: api.requests,
    openWatches: () => api.watches.openCount,
    stop: async () => {
      api.watches.endAll();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

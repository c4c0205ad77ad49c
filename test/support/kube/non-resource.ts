// Non-resource endpoints: /version, discovery, OpenAPI v3 and health checks.
import { AGGREGATED_V2, aggregatedCore, aggregatedGroups, apiGroup, apiGroupList, apiResourceList, apiVersions, wantsAggregated } from './discovery.js';
import { openApiDocument, openApiIndex } from './openapi.js';
import type { ResourceRegistry } from './registry.js';
import { ApiError, PageNotFound, statusBody } from './status-errors.js';

export interface NonResourceReply {
  status: number;
  body: unknown;
  contentType: string;
}

/** What the captured kube-apiserver reports (capture 01); kubectl 1.33 is within skew of it. */
const VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.13',
  gitCommit: 'd4b43f374a5bc0e0f44c07ff773061e27c7f2a08',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.5',
  compiler: 'gc',
  platform: 'linux/amd64',
};

const json = (body: unknown, contentType = 'application/json'): NonResourceReply => ({ status: 200, body, contentType });

export class NonResourceApi {
  constructor(
    private readonly registry: ResourceRegistry,
    private readonly serverAddress: () => string,
  ) {}

  handle(url: URL, accept: string | undefined): NonResourceReply {
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const parts = path.split('/').filter((p) => p !== '');
    const aggregated = wantsAggregated(accept);
    if (path === '/version') return json(VERSION);
    if (['/healthz', '/livez', '/readyz'].includes(path)) return { status: 200, body: 'ok', contentType: 'text/plain; charset=utf-8' };
    if (path === '/api') return aggregated ? json(aggregatedCore(this.registry), AGGREGATED_V2) : json(apiVersions(this.serverAddress()));
    if (path === '/apis') return aggregated ? json(aggregatedGroups(this.registry), AGGREGATED_V2) : json(apiGroupList(this.registry));
    if (parts[0] === 'api' && parts.length === 2) return this.found(apiResourceList(this.registry, '', parts[1]!));
    if (parts[0] === 'apis' && !apiGroup(this.registry, parts[1] ?? '')) throw new PageNotFound();
    if (parts[0] === 'apis' && parts.length === 2) return this.found(apiGroup(this.registry, parts[1]!));
    if (parts[0] === 'apis' && parts.length === 3) return this.found(apiResourceList(this.registry, parts[1]!, parts[2]!));
    if (path === '/openapi/v3') return json(openApiIndex(this.registry));
    if (parts[0] === 'openapi' && parts[1] === 'v3') {
      const rest = parts.slice(2);
      const doc = rest[0] === 'api' ? openApiDocument(this.registry, '', rest[1] ?? '') : openApiDocument(this.registry, rest[1] ?? '', rest[2] ?? '');
      if (!doc) throw new PageNotFound('');
      return json(doc);
    }
    if (parts[0] !== 'api') throw new PageNotFound();
    throw new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
  }

  private found(body: unknown): NonResourceReply {
    if (body === undefined) throw new ApiError(statusBody(404, 'NotFound', 'the server could not find the requested resource', {}));
    return json(body);
  }
}

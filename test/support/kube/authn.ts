// Bearer-token authentication and RBAC authorization, as kube-apiserver runs them with a
// static token file and --authorization-mode=RBAC (capture 70 for the 403 body).
import type { RequestAttributes, UserInfo } from './auth-types.js';
import { forbiddenMessage, RbacAuthorizer, SYSTEM_AUTHENTICATED, SYSTEM_UNAUTHENTICATED } from './rbac.js';
import type { ResourceRegistry } from './registry.js';
import { grKey, type ObjectStore } from './store.js';
import { ApiError, statusBody, unauthorized, type StatusDetails } from './status-errors.js';

/** kube-apiserver's default --anonymous-auth=true: a request without credentials is this user, and RBAC decides. */
const ANONYMOUS: UserInfo = { name: 'system:anonymous', groups: [SYSTEM_UNAUTHENTICATED] };

export class Authenticator {
  private readonly tokens = new Map<string, UserInfo>();

  addToken(token: string, user: UserInfo): void {
    // Every authenticated user is in system:authenticated, whatever the token file says.
    const groups = user.groups.includes(SYSTEM_AUTHENTICATED) ? user.groups : [...user.groups, SYSTEM_AUTHENTICATED];
    this.tokens.set(token, { name: user.name, groups });
  }

  /** No Authorization header is the anonymous user; a token that names nobody is 401. */
  authenticate(authorization: string | undefined): UserInfo {
    if (authorization === undefined) return ANONYMOUS;
    const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
    const user = match ? this.userOf(match[1]!) : undefined;
    if (!user) throw unauthorized();
    return user;
  }

  /** The user a token names, if any (a TokenReview's answer). */
  userOf(token: string): UserInfo | undefined {
    return this.tokens.get(token);
  }
}

export class Authorizer {
  private readonly rbac: RbacAuthorizer;

  constructor(
    private readonly enabled: boolean,
    store: ObjectStore,
    registry: ResourceRegistry,
  ) {
    this.rbac = new RbacAuthorizer({
      list: (apiVersion, kind) => {
        const info = registry.all().find((r) => `${r.group}/${r.version}` === apiVersion && r.kind === kind);
        return info ? store.list(grKey(info.group, info.resource)) : [];
      },
    });
  }

  decide(user: UserInfo, attrs: RequestAttributes): { allowed: boolean; reason: string } {
    return this.enabled ? this.rbac.authorize(user, attrs) : { allowed: true, reason: '' };
  }

  check(user: UserInfo, attrs: RequestAttributes): void {
    const decision = this.decide(user, attrs);
    if (decision.allowed) return;
    const details: StatusDetails = {};
    if (!attrs.nonResourceURL) {
      if (attrs.name) details.name = attrs.name;
      if (attrs.apiGroup) details.group = attrs.apiGroup;
      details.kind = attrs.resource;
    }
    throw new ApiError(statusBody(403, 'Forbidden', forbiddenMessage(user, attrs, decision.reason), details));
  }
}

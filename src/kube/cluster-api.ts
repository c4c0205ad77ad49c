// The few Kubernetes API calls the agent and the controller make, through
// @kubernetes/client-node. Everything else talks to this small interface, so
// the API is one seam (and the request count per agent is easy to see).
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
  NetworkingV1beta1Api,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type CoreV1Event,
  type V1Lease,
  type V1Pod,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, GROUP_VERSION } from '../api/v1alpha1/names.js';
import type { KubeObject, ListWatch, WatchEventType } from './reflector.js';
import { statusCode } from '../errors.js';

const WATCH_TIMEOUT_MIN_S = 300;

interface ObjectMeta {
  name: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  [k: string]: unknown;
}

export interface CustomObject extends KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

/** Who the API server says a token belongs to (TokenReview's status.user). */
export interface ReviewedUser {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export class ClusterApi {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly networkingBeta: NetworkingV1beta1Api;
  private readonly authentication: AuthenticationV1Api;
  private readonly authorization: AuthorizationV1Api;
  private readonly watcher: Watch;

  constructor(kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.networking = kc.makeApiClient(NetworkingV1Api);
    this.networkingBeta = kc.makeApiClient(NetworkingV1beta1Api);
    this.authentication = kc.makeApiClient(AuthenticationV1Api);
    this.authorization = kc.makeApiClient(AuthorizationV1Api);
    this.watcher = new Watch(kc);
  }

  /** List and watch a cluster-scoped custom resource (conntrackpolicies, conntrackstatuses). */
  customListWatch(plural: string): ListWatch<CustomObject> {
    return {
      list: async (rv) => {
        const list = (await this.custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural, ...listRv(rv) })) as {
          items: CustomObject[];
          metadata: { resourceVersion: string };
        };
        return { items: list.items, resourceVersion: list.metadata.resourceVersion };
      },
      watch: (rv, onEvent, done) => this.watch(`/apis/${GROUP_VERSION}/${plural}`, rv, {}, onEvent, done),
    };
  }

  /** List and watch Nodes, optionally one by name (fieldSelector metadata.name). */
  nodeListWatch(name?: string): ListWatch<KubeObject> {
    const fieldSelector = name ? `metadata.name=${name}` : undefined;
    return {
      list: async (rv) => {
        const list = await this.core.listNode({ ...(fieldSelector ? { fieldSelector } : {}), ...listRv(rv) });
        return { items: list.items as unknown as KubeObject[], resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      watch: (rv, onEvent, done) => this.watch('/api/v1/nodes', rv, fieldSelector ? { fieldSelector } : {}, onEvent, done),
    };
  }

  /**
   * List and watch the Pods bound to one node (fieldSelector spec.nodeName, which kube-apiserver
   * indexes for pods), each cut at once to its namespace, name and UID: a node's pod specs are not kept.
   */
  nodePodsListWatch(nodeName: string): ListWatch<KubeObject> {
    const fieldSelector = `spec.nodeName=${nodeName}`;
    return {
      list: async (rv) => {
        const list = await this.core.listPodForAllNamespaces({ fieldSelector, ...listRv(rv) });
        return { items: list.items.map(podIdentity), resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      // An ERROR event's object is a Status (its code tells a 410): passed as it is.
      watch: (rv, onEvent, done) => this.watch('/api/v1/pods', rv, { fieldSelector }, (t, o) => onEvent(t, t === 'ERROR' ? o : podIdentity(o)), done),
    };
  }

  /**
   * List and watch the ServiceCIDRs: networking.k8s.io/v1 (Kubernetes 1.33+), else v1beta1
   * (1.31-1.32, where enabled); the watch uses the version the last list found. Neither
   * served: the list fails with ApiNotServed. RBAC does not look at versions, so a 403 on
   * v1 is the answer for both.
   */
  serviceCidrListWatch(): ListWatch<KubeObject> {
    let version = 'v1';
    const lists = [
      ['v1', (rv: string) => this.networking.listServiceCIDR(listRv(rv))],
      ['v1beta1', (rv: string) => this.networkingBeta.listServiceCIDR(listRv(rv))],
    ] as const;
    return {
      list: async (rv) => {
        for (const [v, list] of lists) {
          try {
            const listed = await list(rv);
            version = v;
            return { items: listed.items as unknown as KubeObject[], resourceVersion: listed.metadata?.resourceVersion ?? '' };
          } catch (err) {
            if (statusCode(err) !== 404) throw err;
          }
        }
        throw new ApiNotServed(`networking.k8s.io servicecidrs: neither ${lists.map(([v]) => v).join(' nor ')} is served`);
      },
      watch: (rv, onEvent, done) => this.watch(`/apis/networking.k8s.io/${version}/servicecidrs`, rv, {}, onEvent, done),
    };
  }

  /** One list of the pods of a namespace, by label selector and optionally field selector (no watch: the kubectl commands look once). */
  async listPods(namespace: string, labelSelector: string, fieldSelector?: string): Promise<V1Pod[]> {
    return (await this.core.listNamespacedPod({ namespace, labelSelector, ...(fieldSelector ? { fieldSelector } : {}) })).items;
  }

  private async watch(
    path: string,
    resourceVersion: string,
    query: Record<string, string>,
    onEvent: (t: WatchEventType, o: unknown) => void,
    done: (err?: unknown) => void,
  ) {
    // A server-side timeout, spread out as client-go does, so a half-open connection cannot keep a store stale for long.
    const timeoutSeconds = WATCH_TIMEOUT_MIN_S + Math.floor(Math.random() * WATCH_TIMEOUT_MIN_S);
    const controller = await this.watcher.watch(
      path,
      { ...query, resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
      (phase, obj) => onEvent(phase as WatchEventType, obj),
      (err) => done(watchError(path, err)),
    );
    return { abort: () => controller.abort() };
  }

  async getCustom(plural: string, name: string): Promise<CustomObject | null> {
    try {
      return (await this.custom.getClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural, name })) as CustomObject;
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  async createCustom(plural: string, body: CustomObject): Promise<CustomObject> {
    return (await this.custom.createClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural, body })) as CustomObject;
  }

  /** PUT of the status subresource; body.metadata.resourceVersion makes it conditional (409 on a stale one). */
  async replaceCustomStatus(plural: string, body: CustomObject): Promise<CustomObject> {
    return (await this.custom.replaceClusterCustomObjectStatus({
      group: API_GROUP,
      version: API_VERSION,
      plural,
      name: body.metadata.name,
      body,
    })) as CustomObject;
  }

  createEvent(namespace: string, body: CoreV1Event): Promise<CoreV1Event> {
    return this.core.createNamespacedEvent({ namespace, body });
  }

  patchEvent(namespace: string, name: string, patch: object): Promise<CoreV1Event> {
    return this.core.patchNamespacedEvent({ namespace, name, body: patch }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  }

  async getLease(namespace: string, name: string): Promise<V1Lease | null> {
    try {
      return await this.coordination.readNamespacedLease({ namespace, name });
    } catch (err) {
      if (statusCode(err) === 404) return null;
      throw err;
    }
  }

  createLease(namespace: string, body: V1Lease): Promise<V1Lease> {
    return this.coordination.createNamespacedLease({ namespace, body });
  }

  replaceLease(namespace: string, body: V1Lease): Promise<V1Lease> {
    return this.coordination.replaceNamespacedLease({ namespace, name: body.metadata!.name!, body });
  }

  /** TokenReview (no audiences: the API server's own): the token's user, or null when it names nobody. */
  async reviewToken(token: string): Promise<ReviewedUser | null> {
    const review = await this.authentication.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } } });
    const user = review.status?.authenticated ? review.status.user : undefined;
    if (!user?.username) return null;
    return { username: user.username, groups: user.groups ?? [], ...(user.uid ? { uid: user.uid } : {}), ...(user.extra ? { extra: user.extra } : {}) };
  }

  /** SubjectAccessReview of a non-resource request (verb on path) by that user, with its groups and extra. */
  async reviewAccess(user: ReviewedUser, verb: string, path: string): Promise<{ allowed: boolean; reason: string }> {
    const review = await this.authorization.createSubjectAccessReview({
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user: user.username, uid: user.uid, groups: user.groups, extra: user.extra, nonResourceAttributes: { path, verb } },
      },
    });
    return { allowed: review.status?.allowed === true, reason: review.status?.reason ?? '' };
  }
}

/** The API server serves no version of a resource (404 on each): not an error to retry soon. */
export class ApiNotServed extends Error {}

/**
 * client-node's Watch rejects a refused watch with only the HTTP status text ("Forbidden"), which
 * leaves a log unable to say what was refused: name the watched path too, and keep the status code.
 */
function watchError(path: string, err: unknown): unknown {
  const code = statusCode(err);
  if (code === undefined || !(err instanceof Error)) return err ?? undefined;
  return Object.assign(new Error(`watch ${path}: HTTP ${code} ${err.message}`), { statusCode: code });
}

/** What the agent keeps of a Pod: who it is, and the resourceVersion a watch resumes from. */
function podIdentity(pod: unknown): KubeObject {
  const m = (pod as { metadata?: Record<string, unknown> }).metadata ?? {};
  const keep = ['namespace', 'name', 'uid', 'resourceVersion'].filter((k) => typeof m[k] === 'string');
  return { metadata: Object.fromEntries(keep.map((k) => [k, m[k]])) };
}

/** The list's resourceVersion parameter; "" (a consistent read) is sent as no parameter, as client-go does. */
function listRv(resourceVersion: string): { resourceVersion?: string } {
  return resourceVersion ? { resourceVersion } : {};
}

/** The standard resolution: a kubeconfig file when given, else the in-cluster service account. */
export function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfigPath) kc.loadFromFile(kubeconfigPath);
  else kc.loadFromCluster();
  return kc;
}

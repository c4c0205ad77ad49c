// The pods bound to this node, by UID: the census finds a namespace's pod UID
// in its cgroup, and this names the pod (namespace/name) for the status and
// for events on the Pod. Listed and watched with a fieldSelector on
// spec.nodeName, so each agent sees only its own node's pods; only their
// identities are kept. Optional: when the pods cannot be read (RBAC refused),
// the agent goes on and its rows carry the UID only; the refusal is said once.
import { errorText, statusCode } from '../errors.js';
import type { PodName } from '../report/netns-status.js';
import type { ClusterApi } from './cluster-api.js';
import type { Log } from '../logger.js';
import { Reflector, type KubeObject, type ListWatch, type ReflectorTiming } from './reflector.js';

export class NodePods {
  private byUid = new Map<string, PodName>();
  private readonly reflector: Reflector<KubeObject>;
  /** The last list or watch was refused (403): the reflector's retries are logged at debug only. */
  private refused = false;
  private refusalLogged = false;

  constructor(
    api: Pick<ClusterApi, 'nodePodsListWatch'>,
    nodeName: string,
    timing: ReflectorTiming,
    private readonly log: Log,
  ) {
    // Not a spread of log: pino's level methods need it as `this`.
    const quietWhenRefused: Log = {
      debug: (obj: object, msg: string) => log.debug(obj, msg),
      info: (obj: object, msg: string) => log.info(obj, msg),
      warn: (obj: object, msg: string) => (this.refused ? log.debug(obj, msg) : log.warn(obj, msg)),
      error: (obj: object, msg: string) => log.error(obj, msg),
    };
    this.reflector = new Reflector(this.noticeRefusals(api.nodePodsListWatch(nodeName)), (store) => this.index(store), timing, quietWhenRefused);
  }

  start(): void {
    this.reflector.start();
  }

  stop(): Promise<void> {
    return this.reflector.stop();
  }

  /** The pod of a UID, if it is bound to this node and listed. */
  readonly lookup = (uid: string): PodName | undefined => this.byUid.get(uid);

  private index(store: ReadonlyMap<string, KubeObject>): void {
    const byUid = new Map<string, PodName>();
    for (const { metadata: m } of store.values()) {
      const uid = m?.['uid'];
      const namespace = m?.['namespace'];
      if (typeof uid === 'string' && typeof namespace === 'string' && m?.name) byUid.set(uid, { namespace, name: m.name });
    }
    this.byUid = byUid;
  }

  private noticeRefusals(lw: ListWatch<KubeObject>): ListWatch<KubeObject> {
    const notice = (err: unknown) => {
      this.refused = statusCode(err) === 403;
      if (!this.refused || this.refusalLogged) return;
      this.refusalLogged = true;
      this.log.warn(
        { err: errorText(err) },
        "cannot read this node's pods: network namespaces are reported by pod UID only, and their events go on the Node only",
      );
    };
    return {
      list: (rv) =>
        lw.list(rv).then(
          (listed) => ((this.refused = false), listed),
          (err: unknown) => {
            notice(err);
            throw err;
          },
        ),
      watch: (rv, onEvent, done) =>
        lw
          .watch(rv, onEvent, (err) => {
            if (err !== undefined) notice(err);
            done(err);
          })
          .catch((err: unknown) => {
            notice(err);
            throw err;
          }),
    };
  }
}

// The cluster's Service ranges, from its ServiceCIDR objects (networking.k8s.io:
// v1 from Kubernetes 1.33, v1beta1 on 1.31-1.32 where it is enabled; the object
// named "kubernetes" holds the API server's --service-cluster-ip-range, and more
// can be added at any time, so they are listed and watched). When they cannot be
// read (the API not served, RBAC refused, no answer yet) the ranges are not
// known, and the status says why. The last ranges read are kept in the state
// dir: an agent restarted while the API server is down still knows them.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { errorText, statusCode } from '../errors.js';
import type { Log } from '../logger.js';
import type { RangeKnowledge } from '../policy/cluster-cidrs.js';
import { cidrListProblem } from '../policy/cidr.js';
import { ApiNotServed, type ClusterApi } from './cluster-api.js';
import { Reflector, type KubeObject, type ListWatch, type ReflectorTiming } from './reflector.js';

const CACHE_FILE = 'service-cidrs.json';
/** An API that is not served is asked again this often, not at every backoff (2 requests per node each time). */
export const NOT_SERVED_RETRY_MS = 10 * 60_000;

const NOT_SERVED =
  'the ServiceCIDR API is not served (networking.k8s.io/v1 from Kubernetes 1.33; v1beta1 on 1.31-1.32 only with --runtime-config and the MultiCIDRServiceAllocator gate)';

interface Known {
  cidrs: string[];
  names: string[];
}

export class ServiceCidrs {
  private known: Known | null = null;
  /** The ranges came from the state dir, not from this process's own read. */
  private fromCache = false;
  private problem = 'not read from the API yet';
  private notServedUntil = 0;
  /** The last list or watch failed for a reason already logged: the reflector's own retries go to debug. */
  private failing = false;
  /** Each reason is logged once (at the first failure of its kind). */
  private readonly said = new Set<string>();
  private readonly listeners: Array<() => void> = [];
  private readonly reflector: Reflector<KubeObject>;
  private readonly cachePath: string;
  /** One save at a time, in order: the last ranges win. */
  private saving: Promise<void> = Promise.resolve();

  constructor(
    api: Pick<ClusterApi, 'serviceCidrListWatch'>,
    private readonly stateDir: string,
    private readonly timing: ReflectorTiming,
    private readonly log: Log,
  ) {
    this.cachePath = join(stateDir, CACHE_FILE);
    // Not a spread of log: pino's level methods need it as `this`. A problem already said once is not warned about at every retry.
    const quiet: Log = {
      debug: (obj: object, msg: string) => log.debug(obj, msg),
      info: (obj: object, msg: string) => log.info(obj, msg),
      warn: (obj: object, msg: string) => (this.failing ? log.debug(obj, msg) : log.warn(obj, msg)),
      error: (obj: object, msg: string) => log.error(obj, msg),
    };
    this.reflector = new Reflector(this.noticing(api.serviceCidrListWatch()), (store) => this.onStore(store), timing, quiet);
  }

  async start(): Promise<void> {
    this.known = await this.loadCache();
    this.fromCache = this.known !== null;
    this.reflector.start();
  }

  async stop(): Promise<void> {
    await this.reflector.stop();
    await this.saving;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  current(): RangeKnowledge {
    if (!this.known) return { cidrs: null, why: this.problem };
    const from = `ServiceCIDR ${this.known.names.join(', ')}`;
    return { cidrs: this.known.cidrs, from: this.fromCache ? `${from}, as last read: the API has not answered since the agent started` : from };
  }

  private onStore(store: ReadonlyMap<string, KubeObject>): void {
    const items = [...store.values()];
    const cidrs = [...new Set(items.flatMap((o) => ((o['spec'] as { cidrs?: string[] } | undefined)?.cidrs ?? []).filter((c) => typeof c === 'string')))];
    const next = cidrs.length ? { cidrs: cidrs.sort(), names: items.map((o) => o.metadata?.name ?? '').sort() } : null;
    this.problem = 'the ServiceCIDR API lists no ranges';
    this.failing = false;
    const changed = this.fromCache || JSON.stringify(next) !== JSON.stringify(this.known);
    this.known = next;
    this.fromCache = false;
    if (!changed) return;
    if (next) this.saving = this.saving.then(() => this.saveCache(next));
    for (const l of this.listeners) l();
  }

  /** Why a list failed, said once per reason; an API not served is not asked again for NOT_SERVED_RETRY_MS. */
  private noticing(lw: ListWatch<KubeObject>): ListWatch<KubeObject> {
    return {
      list: async (rv) => {
        if (this.timing.now() < this.notServedUntil) throw new ApiNotServed(NOT_SERVED);
        try {
          return await lw.list(rv);
        } catch (err) {
          this.failed('list', err);
          throw err;
        }
      },
      watch: (rv, onEvent, done) =>
        lw.watch(rv, onEvent, (err) => {
          if (err !== undefined) this.failed('watch', err);
          done(err);
        }),
    };
  }

  private failed(verb: 'list' | 'watch', err: unknown): void {
    const notServed = err instanceof ApiNotServed;
    if (notServed) this.notServedUntil = this.timing.now() + NOT_SERVED_RETRY_MS;
    const refused = statusCode(err) === 403;
    this.failing = notServed || refused;
    const why = notServed
      ? NOT_SERVED
      : refused
        ? `not allowed to ${verb} servicecidrs.networking.k8s.io (grant list and watch on them in the agent ClusterRole)`
        : `the API server did not answer: ${errorText(err)}`;
    if (verb === 'list') this.problem = why;
    const kind = `${verb} ${notServed ? 'not served' : refused ? 'refused' : 'failed'}`;
    if (this.said.has(kind)) return;
    this.said.add(kind);
    const known = this.known ? 'the ranges last read are kept' : 'the Service ranges are not known';
    this.log[notServed ? 'info' : 'warn']({ err: errorText(err) }, `cannot ${verb} the ServiceCIDRs: ${why}; ${known}`);
  }

  private async loadCache(): Promise<Known | null> {
    try {
      // The state dir is trusted no more than the API: CIDRs that do not parse are not ranges.
      const cached = JSON.parse(await readFile(this.cachePath, 'utf8')) as Known;
      const valid = Array.isArray(cached.cidrs) && cached.cidrs.length > 0 && cidrListProblem(cached.cidrs) === undefined && Array.isArray(cached.names);
      return valid ? { cidrs: cached.cidrs, names: cached.names.map(String) } : null;
    } catch {
      return null;
    }
  }

  private async saveCache(known: Known): Promise<void> {
    try {
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.cachePath, `${JSON.stringify(known)}\n`);
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'could not keep the Service ranges in the state dir');
    }
  }
}

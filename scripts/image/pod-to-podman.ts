// Translates the agent container of a rendered DaemonSet into `podman run`
// options, so a test (or someone without a cluster) runs the image exactly as
// the pod runs it: security context, mounts, environment, args, memory limit.
// What only the kubelet knows (the node's name, its network, where the
// service account token lives) comes in as options. Pure: host paths to
// create or check are returned, not touched. Anything the translation does
// not know is an error naming the field, so the chart cannot drift away from
// what is tested.
//   helm template ... | node --import tsx scripts/image/pod-to-podman.ts IMAGE NETNS_PATH NODE_NAME
import { loadAll } from 'js-yaml';
import { readFileSync } from 'node:fs';

type HostPathType = 'Directory' | 'DirectoryOrCreate' | 'File' | 'FileOrCreate' | 'CharDevice' | '';

export interface HostPathNeed {
  path: string;
  type: HostPathType;
}

interface Probe {
  path: string;
  port: number;
  /** httpGet.host when the probe names one (the agent's: 127.0.0.1). */
  host?: string;
}

export interface KubeletSide {
  /** A path such as /run/netns/NAME: the node's network namespace for a hostNetwork pod, else the pod network to join. */
  netnsPath: string;
  /** spec.nodeName, for fieldRef env. */
  nodeName: string;
  /** metadata.namespace and metadata.name of the pod, for fieldRef env. */
  podNamespace?: string;
  podName?: string;
  /** status.podIP, for fieldRef env: a host-network pod's is its node's address. */
  podIP?: string;
  /** hostPath sources replaced by another host path (e.g. the state dir by a test folder). */
  hostPathOverrides?: Record<string, string>;
  /** What the kubelet adds to every pod: KUBERNETES_SERVICE_*, the service account token volume. */
  extraEnv?: Record<string, string>;
  extraMounts?: Array<{ source: string; target: string; readOnly: boolean }>;
}

export interface PodmanPodRun {
  /** Options between `podman run` and the image. */
  options: string[];
  /** The container's args (after the image). */
  args: string[];
  /** Host paths the volumes need, with their hostPath type. */
  hostPaths: HostPathNeed[];
  /** The container's named ports. */
  ports: Record<string, number>;
}

export interface PodmanRun extends PodmanPodRun {
  liveness: Probe;
  readiness: Probe;
}

// A rendered manifest, of any shape: every field read is checked where it is used.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = Record<string, any>;

const FIELD_REFS: Record<string, (k: KubeletSide) => string | undefined> = {
  'spec.nodeName': (k) => k.nodeName,
  'metadata.namespace': (k) => k.podNamespace,
  'metadata.name': (k) => k.podName,
  'status.podIP': (k) => k.podIP,
};

/** The kubelet's expansion of $(VAR) in args from the container's env; an unknown name stays as written, $$ escapes. */
function expandArgs(args: string[], env: Map<string, string>): string[] {
  return args.map((a) => a.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name?: string) => (whole === '$$' ? '$' : (env.get(name!) ?? whole))));
}

/** Kubernetes quantities podman takes: Mi/Gi -> m/g (binary in both). */
function quantity(field: string, q: string): string {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(q);
  if (!m) throw new Error(`${field}: "${q}" is not a quantity this translation knows (N, NKi, NMi, NGi)`);
  return m[2] ? `${m[1]}${m[2][0]!.toLowerCase()}` : m[1]!;
}

function probe(field: string, p: Obj | undefined, ports: Obj[]): Probe {
  const get = p?.httpGet;
  if (!get) throw new Error(`${field}: only httpGet probes are translated`);
  const port = typeof get.port === 'number' ? get.port : ports.find((x) => x.name === get.port)?.containerPort;
  if (typeof port !== 'number') throw new Error(`${field}.httpGet.port: "${get.port}" names no container port`);
  return { path: get.path, port, ...(get.host ? { host: get.host as string } : {}) };
}

/** The agent DaemonSet's pod: host network, with its probes. */
export function podmanRunOptions(daemonSet: Obj, kubelet: KubeletSide): PodmanRun {
  const pod = daemonSet.spec?.template?.spec as Obj | undefined;
  if (pod && pod.hostNetwork !== true) throw new Error('spec.template.spec.hostNetwork: only host-network pods are translated');
  const run = podRunOptions(pod, kubelet, 'spec.template.spec');
  const c = pod!.containers[0] as Obj;
  const at = `containers[${c.name}]`;
  const ports = (c.ports ?? []) as Obj[];
  return { ...run, liveness: probe(`${at}.livenessProbe`, c.livenessProbe, ports), readiness: probe(`${at}.readinessProbe`, c.readinessProbe, ports) };
}

/**
 * One pod's only container (a PodSpec, as in a Pod or a template): in kubelet.netnsPath, the node's
 * network for a hostNetwork pod, else the pod network the caller provides. Probes are not read.
 */
export function podRunOptions(pod: Obj | undefined, kubelet: KubeletSide, field = 'spec'): PodmanPodRun {
  if (!pod || pod.containers?.length !== 1) throw new Error(`${field}.containers: expected exactly one container`);
  const c = pod.containers[0] as Obj;
  const at = `containers[${c.name}]`;
  const options: string[] = [];

  options.push(`--network=ns:${kubelet.netnsPath}`);

  const seccomp = pod.securityContext?.seccompProfile?.type ?? c.securityContext?.seccompProfile?.type;
  if (seccomp === 'Unconfined') options.push('--security-opt=seccomp=unconfined');
  else if (seccomp !== undefined && seccomp !== 'RuntimeDefault') throw new Error(`seccompProfile.type: ${seccomp} is not translated`);

  const sc = (c.securityContext ?? {}) as Obj;
  const podSc = (pod.securityContext ?? {}) as Obj;
  if (sc.privileged) options.push('--privileged');
  if (sc.allowPrivilegeEscalation === false) options.push('--security-opt=no-new-privileges');
  // The container's settings win over the pod's, as the kubelet merges them.
  const user = sc.runAsUser ?? podSc.runAsUser;
  const group = sc.runAsGroup ?? podSc.runAsGroup;
  // The kubelet refuses to start a runAsNonRoot container as root; with no runAsUser it checks the image's user, which is not read here.
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) === true && !(typeof user === 'number' && user > 0)) {
    throw new Error(`${at}.securityContext.runAsNonRoot: needs a runAsUser other than 0 here (the image's user is not read)`);
  }
  if (user !== undefined) options.push(`--user=${user}${group !== undefined ? `:${group}` : ''}`);
  // Kubernetes adds no tmpfs over a read-only root; podman would (/tmp, /run, /var/tmp).
  if (sc.readOnlyRootFilesystem) options.push('--read-only', '--read-only-tmpfs=false');
  // As containerd's CRI does: a privileged container gets every capability, its add/drop lists are not applied.
  if (!sc.privileged) {
    for (const cap of sc.capabilities?.drop ?? []) options.push(`--cap-drop=${cap}`);
    for (const cap of sc.capabilities?.add ?? []) options.push(`--cap-add=${cap}`);
  }

  const env = new Map<string, string>();
  for (const e of (c.env ?? []) as Obj[]) {
    if (e.value !== undefined) env.set(e.name, String(e.value));
    else {
      const path = e.valueFrom?.fieldRef?.fieldPath as string | undefined;
      const value = path ? FIELD_REFS[path]?.(kubelet) : undefined;
      if (value === undefined) throw new Error(`${at}.env[${e.name}]: ${JSON.stringify(e.valueFrom)} is not translated`);
      env.set(e.name, value);
    }
  }
  for (const [name, value] of env) options.push(`--env=${name}=${value}`);
  for (const [k, v] of Object.entries(kubelet.extraEnv ?? {})) options.push(`--env=${k}=${v}`);

  const volumes = new Map<string, Obj>(((pod.volumes ?? []) as Obj[]).map((v) => [v.name, v]));
  const hostPaths: HostPathNeed[] = [];
  for (const m of (c.volumeMounts ?? []) as Obj[]) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`${at}.volumeMounts[${m.name}]: no volume of that name`);
    // recursiveReadOnly: IfPossible may fall back to a plain read-only bind, which is what podman makes.
    if (m.recursiveReadOnly !== undefined && m.recursiveReadOnly !== 'IfPossible' && m.recursiveReadOnly !== 'Disabled') {
      throw new Error(`${at}.volumeMounts[${m.name}].recursiveReadOnly: ${m.recursiveReadOnly} is not translated`);
    }
    if (v.hostPath) {
      const source = kubelet.hostPathOverrides?.[v.hostPath.path] ?? v.hostPath.path;
      hostPaths.push({ path: source, type: v.hostPath.type ?? '' });
      options.push(`--volume=${source}:${m.mountPath}:${m.readOnly ? 'ro' : 'rw'}`);
    } else if (v.emptyDir) {
      const size = v.emptyDir.sizeLimit ? `,tmpfs-size=${quantity(`volumes[${v.name}].emptyDir.sizeLimit`, v.emptyDir.sizeLimit)}` : '';
      options.push(`--mount=type=tmpfs,destination=${m.mountPath}${size}`);
    } else {
      throw new Error(`volumes[${v.name}]: only hostPath and emptyDir volumes are translated`);
    }
  }
  for (const m of kubelet.extraMounts ?? []) options.push(`--volume=${m.source}:${m.target}:${m.readOnly ? 'ro' : 'rw'}`);

  const memory = c.resources?.limits?.memory as string | undefined;
  if (memory) options.push(`--memory=${quantity(`${at}.resources.limits.memory`, memory)}`);
  if (pod.terminationGracePeriodSeconds !== undefined) options.push(`--stop-timeout=${pod.terminationGracePeriodSeconds}`);
  if (c.command) options.push(`--entrypoint=${JSON.stringify(c.command)}`);

  const ports = (c.ports ?? []) as Obj[];
  return {
    options,
    args: expandArgs((c.args ?? []) as string[], env),
    hostPaths,
    ports: Object.fromEntries(ports.filter((p) => p.name).map((p) => [p.name as string, p.containerPort as number])),
  };
}

/** The one DaemonSet in a multi-document YAML stream (helm template's output). */
export function daemonSetOf(yaml: string): Obj {
  const found = loadAll(yaml).filter((o): o is Obj => (o as Obj | null)?.kind === 'DaemonSet');
  if (found.length !== 1) throw new Error(`expected one DaemonSet in the rendered chart, found ${found.length}`);
  return found[0]!;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [image, netnsPath, nodeName, podIP = '127.0.0.1'] = process.argv.slice(2);
  if (!image || !netnsPath || !nodeName) {
    console.error('usage: helm template ... | pod-to-podman.ts IMAGE NETNS_PATH NODE_NAME [POD_IP (default 127.0.0.1)]');
    process.exit(1);
  }
  const run = podmanRunOptions(daemonSetOf(readFileSync(0, 'utf8')), { netnsPath, nodeName, podIP });
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`);
  console.log(['podman', 'run', ...run.options, image, ...run.args].map(quote).join(' '));
}

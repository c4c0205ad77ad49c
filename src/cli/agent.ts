// `conntrack-operator agent`: standalone (policy from a file, status to a file)
// or --kubernetes (policies and node labels from the API, ConntrackStatus and
// Node events to it). Both serve /metrics + /healthz + /readyz, log pino
// JSON, and stop cleanly on SIGTERM.
import type { Config } from '../config.js';
import { collectDefaultMetrics } from 'prom-client';
import { NodeAgent } from '../agent/node-agent.js';
import { PolicyFileSource, type PolicySource } from '../agent/policy-source.js';
import { TableFullLog } from '../agent/kernel-log.js';
import { WATCH_DEFAULTS } from '../agent/table-watch.js';
import { writeStatusFile } from '../agent/status-file.js';
import { readNetnsFacts } from '../kernel/host-facts.js';
import type { Logger } from '../logger.js';
import type { Labels } from '../policy/select.js';
import { AgentMetrics } from '../metrics/registries.js';
import { packageVersion } from './package-version.js';
import { FAILED_REASONS, type PassOutcome } from '../report/node-status.js';
import { NodeConditions, type NodeStatusDoc } from '../api/v1alpha1/status.js';
import type { PodNames } from '../report/netns-status.js';
import type { DiscoveredCidrs } from '../policy/cluster-cidrs.js';
import { buildEngine } from './engine.js';
import { HealthServer, servedAt, type MetricsCheck } from './health-server.js';
import { ServingCertificate } from './serving-cert.js';
import type { Host } from '../kernel/host.js';
import type { Clock } from '../clock.js';
import { errnoCode, errorText } from '../errors.js';

const KMSG = '/dev/kmsg';
const BREAKDOWN_INTERVAL_MS = 5 * 60_000;

interface Sources {
  policies: PolicySource;
  nodeLabels: () => Labels;
  publish: (status: NodeStatusDoc, outcome: PassOutcome, previous: NodeStatusDoc | null) => Promise<void>;
  /** In a cluster: this node's pods by UID, to name the pods of network namespaces. */
  pods?: { lookup: PodNames; stop(): Promise<void> };
  /** In a cluster: the Service and Pod ranges it states; a change runs a pass. */
  cidrs?: { current: () => DiscoveredCidrs; onChange(listener: () => void): void; stop(): Promise<void> };
  /** In a cluster with --metrics-secure: the API server's verdict on a scrape. */
  metricsCheck?: MetricsCheck;
}

function standaloneSources(config: Config, policyFile: string, logger: Logger): Sources {
  const fileOptions = { pollMs: Math.min(config.intervalMs, 5000), settleMs: 250, stateDir: config.stateDir, log: logger };
  return {
    policies: new PolicyFileSource(policyFile, fileOptions),
    nodeLabels: () => config.nodeLabels,
    publish: async (status) => {
      if (config.statusFile) await writeStatusFile(config.statusFile, config.nodeName, status);
    },
  };
}

/** The Kubernetes client is loaded only here: the standalone agent never pays for it. */
async function clusterSources(config: Config, clock: Clock, logger: Logger): Promise<Sources> {
  const [{ ClusterApi, loadKubeConfig }, { ClusterPolicySource }, { clusterReporter }, { realTiming }, { NodePods }, { ServiceCidrs }, { MetricsAuthorizer }] =
    await Promise.all([
      import('../kube/cluster-api.js'),
      import('../kube/cluster-policy-source.js'),
      import('../kube/node-reporter.js'),
      import('../kube/reflector.js'),
      import('../kube/node-pods.js'),
      import('../kube/service-cidrs.js'),
      import('../kube/metrics-auth.js'),
    ]);
  const api = new ClusterApi(loadKubeConfig(config.kubeconfig));
  const source = new ClusterPolicySource(api, config.nodeName, config.stateDir, realTiming(), logger);
  const pods = config.podNames ? new NodePods(api, config.nodeName, realTiming(), logger) : undefined;
  pods?.start();
  if (!pods) logger.info({}, "--no-pod-names: this node's pods are not listed; network namespaces are reported by pod UID, events go on the Node only");
  const serviceCidrs = new ServiceCidrs(api, config.stateDir, realTiming(), logger);
  await serviceCidrs.start();
  const authorizer = config.metricsSecure ? new MetricsAuthorizer(api, clock, logger) : undefined;
  return {
    ...(pods ? { pods } : {}),
    cidrs: {
      current: () => ({ service: serviceCidrs.current(), pod: source.podRanges() }),
      onChange: (listener) => serviceCidrs.onChange(listener),
      stop: () => serviceCidrs.stop(),
    },
    ...(authorizer ? { metricsCheck: (authorization, method, path) => authorizer.check(authorization, method, path) } : {}),
    policies: source,
    nodeLabels: () => source.nodeLabels(),
    publish: clusterReporter(api, config.nodeName, () => source.nodeRef(), clock, logger),
  };
}

export interface AgentProcess {
  agent: NodeAgent;
  stop(): Promise<void>;
}

export async function startAgent(config: Config, host: Host, logger: Logger): Promise<AgentProcess> {
  const engine = await buildEngine(config, host, logger);
  const metrics = new AgentMetrics({ version: packageVersion() });
  collectDefaultMetrics({ register: metrics.registry });
  const sources = config.policyFile ? standaloneSources(config, config.policyFile, logger) : await clusterSources(config, host.clock, logger);
  await sources.policies.start();
  const initial = sources.policies.current();
  if (initial.error) logger.error({ err: initial.error }, 'a policy is invalid and is not used');

  const netns = await readNetnsFacts(host);
  let agent: NodeAgent | null = null;
  const tableFull = new TableFullLog(
    () => netns.inode,
    () => agent?.trigger(),
  );
  await tableFull.start(host, KMSG).catch((err: unknown) => {
    // Absent is the chart's default (kmsg.enabled=false): said once, not a warning.
    const level = errnoCode(err) === 'ENOENT' ? 'info' : 'warn';
    logger[level]({ err: errorText(err) }, `cannot read ${KMSG}: "table full" lines will not be seen; drops are still counted`);
  });

  agent = new NodeAgent(
    {
      nodeName: config.nodeName,
      intervalMs: config.intervalMs,
      breakdownIntervalMs: BREAKDOWN_INTERVAL_MS,
      watch: WATCH_DEFAULTS,
      forceDryRun: config.dryRun,
      serviceCidrs: config.serviceCidrs,
      podCidrs: config.podCidrs,
      notrackBackend: engine.backendName,
    },
    {
      host,
      logger,
      policies: sources.policies,
      nodeLabels: sources.nodeLabels,
      reconciler: engine.reconciler,
      baselineStore: engine.baselineStore,
      metrics,
      publish: sources.publish,
      takeKernelTableFull: () => tableFull.take(),
      podNames: sources.pods?.lookup,
      ...(sources.cidrs ? { discoveredCidrs: sources.cidrs.current } : {}),
    },
  );
  const running = agent;
  const health = new HealthServer(
    {
      metrics: async () => ({ body: await metrics.render(), contentType: metrics.contentType }),
      liveProblem: () => running.liveProblem(),
      readyProblem: () => running.readyProblem(),
    },
    sources.metricsCheck && { certificate: await ServingCertificate.load(config.metricsCertDir), check: sources.metricsCheck, log: logger },
  );
  const address = await health.listen(config.metrics, config.health);
  logger.info(
    {
      source: config.policyFile ?? 'kubernetes',
      dryRun: config.dryRun,
      backend: engine.backendName,
      ...servedAt(address, config.metricsSecure),
      intervalMs: config.intervalMs,
    },
    'agent started',
  );
  running.start();
  sources.cidrs?.onChange(() => running.trigger());
  return {
    agent: running,
    stop: async () => {
      await running.stop();
      await Promise.all([sources.policies.stop(), sources.pods?.stop(), sources.cidrs?.stop(), tableFull.stop(), health.close()]);
      logger.info({}, 'agent stopped');
    },
  };
}

/** Run until `until` settles (SIGTERM/SIGINT), or one pass with --once. */
export async function runAgent(config: Config, host: Host, logger: Logger, until: Promise<unknown>): Promise<number> {
  const proc = await startAgent(config, host, logger);
  if (config.once) {
    const { status } = await proc.agent.stop(); // waits for the first pass, started by start()
    const applied = status?.conditions.find((c) => c.type === NodeConditions.Applied);
    await proc.stop();
    return applied && FAILED_REASONS.has(applied.reason) ? 1 : 0;
  }
  logger.info({ signal: await until }, 'stopping');
  await proc.stop();
  return 0;
}

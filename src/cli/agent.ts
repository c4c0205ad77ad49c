// `conntrack-operator agent` without a cluster: policy from a file, status to
// a file, /metrics + /healthz + /readyz, pino JSON logs, clean stop on SIGTERM.
import type { Config } from '../config.js';
import { NodeAgent } from '../agent/node-agent.js';
import { PolicyFileSource, type PolicySource } from '../agent/policy-source.js';
import { TableFullLog } from '../agent/kernel-log.js';
import { writeStatusFile } from '../agent/status-file.js';
import { readNetnsFacts } from '../kernel/host-facts.js';
import type { Logger } from '../logger.js';
import { AgentMetrics } from '../report/metrics.js';
import { buildEngine } from './engine.js';
import { HealthServer } from './health-server.js';
import type { Host } from './host.js';

const KMSG = '/dev/kmsg';
const BREAKDOWN_INTERVAL_MS = 5 * 60_000;

/** No --policy-file: no policy, so the agent only watches and restores what it changed before. */
const NO_POLICY: PolicySource = {
  current: () => ({ policies: [] }),
  onChange: () => undefined,
  start: async () => undefined,
  stop: async () => undefined,
};

export interface AgentProcess {
  agent: NodeAgent;
  stop(): Promise<void>;
}

export async function startAgent(config: Config, host: Host, logger: Logger): Promise<AgentProcess> {
  const engine = await buildEngine(config, host, logger);
  const metrics = new AgentMetrics(config.nodeName);
  const policies = config.policyFile ? new PolicyFileSource(config.policyFile, Math.min(config.intervalMs, 5000)) : NO_POLICY;
  await policies.start();
  const initial = policies.current();
  if (initial.error) logger.error({ err: initial.error }, 'the policy file is invalid; no policy is in force until it is fixed');

  const netns = await readNetnsFacts(host.files, host.paths, host.isRoot);
  const tableFull = new TableFullLog(() => netns.inode);
  await tableFull.start(host.files, host.paths, KMSG).catch((err: unknown) =>
    logger.warn({ err: err instanceof Error ? err.message : String(err) }, `cannot read ${KMSG}: "table full" lines will not be seen; drops are still counted`),
  );

  const agent = new NodeAgent(
    {
      nodeName: config.nodeName,
      intervalMs: config.intervalMs,
      breakdownIntervalMs: BREAKDOWN_INTERVAL_MS,
      forceDryRun: config.dryRun,
      serviceCidrs: config.serviceCidrs,
      podCidrs: config.podCidrs,
      notrackBackend: engine.backendName,
    },
    {
      host,
      logger,
      now: () => new Date(),
      policies,
      nodeLabels: () => config.nodeLabels,
      reconciler: engine.reconciler,
      baselineStore: engine.baselineStore,
      metrics,
      publish: async (status) => {
        if (config.statusFile) await writeStatusFile(config.statusFile, config.nodeName, status);
      },
      takeKernelTableFull: () => tableFull.take(),
    },
  );

  const health = new HealthServer({
    metrics: async () => ({ body: await metrics.render(), contentType: metrics.contentType }),
    liveProblem: () => agent.liveProblem(),
    readyProblem: () => agent.readyProblem(),
  });
  const address = await health.listen(config.metrics.host, config.metrics.port);
  logger.info(
    { policyFile: config.policyFile ?? null, dryRun: config.dryRun, backend: engine.backendName, metrics: `http://${address.address}:${address.port}/metrics`, intervalMs: config.intervalMs },
    'agent started',
  );
  agent.start();
  return {
    agent,
    stop: async () => {
      await agent.stop();
      await Promise.all([policies.stop(), tableFull.stop(), health.close()]);
      logger.info({}, 'agent stopped');
    },
  };
}

/** Run until SIGTERM/SIGINT (or one pass with --once). */
export async function runAgent(config: Config, host: Host, logger: Logger): Promise<number> {
  const proc = await startAgent(config, host, logger);
  if (config.once) {
    await proc.agent.stop(); // waits for the first pass, started by start()
    const ok = proc.agent.lastStatus?.conditions.every((c) => c.type !== 'Applied' || !['ApplyFailed', 'Error', 'RestoreFailed'].includes(c.reason)) ?? false;
    await proc.stop();
    return ok ? 0 : 1;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  await proc.stop();
  return 0;
}

// `conntrack-operator controller`: one per cluster (Lease leader election),
// keeps every ConntrackPolicy's status from the node statuses.
import type { Config } from '../config.js';
import { collectDefaultMetrics } from 'prom-client';
import { DEFAULT_LEASE, LeaderElector } from '../controller/leader-election.js';
import { PolicyController } from '../controller/policy-controller.js';
import { ClusterApi, loadKubeConfig } from '../kube/cluster-api.js';
import { realQueueClock } from '../work-queue.js';
import { systemClock } from '../clock.js';
import { realTiming } from '../kube/reflector.js';
import type { Logger } from '../logger.js';
import { ControllerMetrics } from '../metrics/registries.js';
import { packageVersion } from './package-version.js';
import { HealthServer, servedAt } from './health-server.js';
import { MetricsAuthorizer } from '../kube/metrics-auth.js';
import { ServingCertificate } from './serving-cert.js';

export const LEASE_NAME = 'conntrack-operator-controller';

export async function runController(config: Config, logger: Logger, until: Promise<unknown>): Promise<number> {
  const api = new ClusterApi(loadKubeConfig(config.kubeconfig));
  const metrics = new ControllerMetrics({ version: packageVersion() });
  collectDefaultMetrics({ register: metrics.registry });
  const controller = new PolicyController(api, realTiming(), logger, realQueueClock, (s) => metrics.observePass(s));
  const onLeading = (leading: boolean) => {
    logger.info({ identity: config.identity }, leading ? 'became the leader' : 'lost the leadership');
    metrics.setLeader(leading);
    controller.setLeading(leading);
  };
  const elector = config.leaderElect
    ? new LeaderElector(
        api,
        { namespace: config.leaseNamespace, name: LEASE_NAME, identity: config.identity, ...DEFAULT_LEASE },
        systemClock,
        onLeading,
        logger,
      )
    : null;
  const authorizer = config.metricsSecure ? new MetricsAuthorizer(api, systemClock, logger) : undefined;
  const health = new HealthServer(
    {
      metrics: async () => ({ body: await metrics.render(), contentType: metrics.contentType }),
      liveProblem: () => null,
      readyProblem: () => null,
    },
    authorizer && {
      certificate: await ServingCertificate.load(config.metricsCertDir),
      check: (authorization, method, path) => authorizer.check(authorization, method, path),
      log: logger,
    },
  );
  const address = await health.listen(config.metrics, config.health);
  controller.start();
  if (elector) elector.start();
  else onLeading(true);
  logger.info(
    { leaderElect: config.leaderElect, lease: `${config.leaseNamespace}/${LEASE_NAME}`, ...servedAt(address, config.metricsSecure) },
    'controller started',
  );
  logger.info({ signal: await until }, 'stopping');
  // The controller stops writing first; then the elector steps down and releases the Lease for the other replica.
  await controller.stop();
  await elector?.stop();
  await health.close();
  logger.info({}, 'controller stopped');
  return 0;
}

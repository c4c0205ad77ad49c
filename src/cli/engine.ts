// Wires the policy engine to the real host: NOTRACK backend (detected or
// chosen), baseline store in the state dir, observer, reconciler. Shared by
// plan, apply, restore and the agent so they all act the same way.
import type { Config } from '../config.js';
import { findKubernetesProcesses } from '../kernel/host-facts.js';
import type { NotrackBackend, NotrackBackendName } from '../kernel/notrack/backend.js';
import { createNotrackBackend, detectBackend } from '../kernel/notrack/detect.js';
import { readObservedState } from '../kernel/observed-state.js';
import { FileBaselineStore, type BaselineStore } from '../reconcile/baseline-store.js';
import { CreatedObjectsFile } from '../reconcile/created-objects-file.js';
import type { Log } from '../logger.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { procfsView, StateLock } from '../reconcile/state-lock.js';
import { NatGuard } from '../reconcile/nat-guard.js';
import { NatRulesReader } from '../kernel/nat/nat-reader.js';
import type { Host } from '../kernel/host.js';

export interface Engine {
  backendName: NotrackBackendName;
  backend: NotrackBackend;
  baselineStore: BaselineStore;
  reconciler: Reconciler;
}

export async function buildEngine(config: Pick<Config, 'notrackBackend' | 'stateDir'>, host: Host, logger?: Log): Promise<Engine> {
  const backendName = config.notrackBackend === 'auto' ? await detectBackend(host.runner) : config.notrackBackend;
  const backend = createNotrackBackend(backendName, host, new CreatedObjectsFile(config.stateDir));
  const baselineStore = new FileBaselineStore(config.stateDir);
  const lock = new StateLock(config.stateDir, { view: procfsView(host.files) });
  const reconciler = new Reconciler({
    observe: () => readObservedState(host),
    host,
    backend,
    baselineStore,
    ...(logger ? { logger } : {}),
    exclusive: (fn) => lock.run(fn),
    natGuard: new NatGuard(new NatRulesReader(host), { clock: host.clock }),
    writerFacts: async () => ({ kubeProxyRunning: (await findKubernetesProcesses(host)).value?.kubeProxy.running ?? false }),
  });
  return { backendName, backend, baselineStore, reconciler };
}

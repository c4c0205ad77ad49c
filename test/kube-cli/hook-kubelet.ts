// A kubelet stand-in for `helm test`: no kubelet runs beside envtest or the
// in-process server, so nothing would run the chart's test hook pod and
// `helm test` would wait for it forever. This watches the namespace for
// hook pods, runs each one's container as the image would (its ENTRYPOINT is
// this CLI: src/cli/main.ts through tsx, with the pod's args unchanged)
// under the pod's own ServiceAccount (a kubeconfig with that account's
// token, in place of the token volume), then writes the pod's phase from the
// exit code, as a kubelet does, for helm to read.
import { runCli, type CliResult } from '../cli/cli-support.js';
import type { TestApi } from '../support/kube/harness.js';
import { ok } from './support.js';

export interface HookRun extends CliResult {
  pod: string;
  args: string[];
}

export interface HookKubelet {
  /** The runs so far, in order. */
  runs: HookRun[];
  stop(): Promise<void>;
}

/** A service account's user name, as its token authenticates. */
export const serviceAccountUser = (namespace: string, name: string) => `system:serviceaccount:${namespace}:${name}`;

export function startHookKubelet(api: TestApi, namespace: string): HookKubelet {
  const runs: HookRun[] = [];
  const done = new Set<string>(); // uids
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const pods = (await ok(api, 'GET', `/api/v1/namespaces/${namespace}/pods`)).items as any[];
      for (const pod of pods) {
        if (
          pod.metadata.annotations?.['helm.sh/hook'] !== 'test' ||
          done.has(pod.metadata.uid) ||
          (pod.status?.phase !== undefined && pod.status.phase !== 'Pending')
        )
          continue;
        done.add(pod.metadata.uid);
        runs.push(await runPod(api, namespace, pod));
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
  return {
    runs,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

async function runPod(api: TestApi, namespace: string, pod: any): Promise<HookRun> {
  const [container, ...more] = pod.spec.containers as any[];
  if (!container || more.length) throw new Error(`hook pod ${pod.metadata.name}: one container expected`);
  // The image's ENTRYPOINT runs the CLI; a command of the pod's own would replace it, which this stand-in cannot play.
  if (container.command) throw new Error(`hook pod ${pod.metadata.name}: sets a command; only args are played`);
  const kubeconfig = api.kubeconfig(serviceAccountUser(namespace, pod.spec.serviceAccountName));
  const startTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  await ok(api, 'PUT', `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}/status`, { ...pod, status: { phase: 'Running', startTime } });
  const result = await runCli(container.args, { env: { KUBECONFIG: kubeconfig } });
  const current = await ok(api, 'GET', `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}`);
  await ok(api, 'PUT', `/api/v1/namespaces/${namespace}/pods/${pod.metadata.name}/status`, {
    ...current,
    status: { ...current.status, phase: result.code === 0 ? 'Succeeded' : 'Failed' },
  });
  return { pod: pod.metadata.name, args: container.args, ...result };
}

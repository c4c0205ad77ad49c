// Starts serve-api.ts as a child process inside a network namespace (where an
// agent, or a container, in that namespace reaches it on 127.0.0.1) and reads
// its one JSON line. One implementation for kube-e2e, the image test and the
// process bench.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { UserInfo } from '../support/kube/auth-types.js';
import { execIn } from '../support/netns.js';
import { until } from '../support/until.js';

const SERVE_API = fileURLToPath(new URL('./serve-api.ts', import.meta.url));

export interface Served {
  /** Which server answers: the in-process one, or a real kube-apiserver (KUBEBUILDER_ASSETS). */
  kind: string;
  url: string;
  caData: string;
  adminToken: string;
  /** A token for each user asked for, by user name. */
  tokens: Record<string, string>;
}

export async function serveApiIn(ns: string, users: UserInfo[]): Promise<{ served: Served; stop: () => Promise<void> }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', SERVE_API, JSON.stringify(users)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('close', (code) => reject(new Error(`test API server exited ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return { served: JSON.parse(line) as Served, stop: async () => (child.stdin.end(), await exited) };
}

/** Waits until `kubectl get ctst NODE` (run inside the namespace) shows Applied=True, and returns that ConntrackStatus. */
export async function appliedStatusIn(ns: string, kubectl: string, kubeconfig: string, node: string, ms: number): Promise<any> {
  return until(
    'ConntrackStatus Applied=True',
    async () => {
      const r = await execIn(ns, kubectl, ['--kubeconfig', kubeconfig, 'get', 'ctst', node, '-o', 'json']);
      const s = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return s?.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Applied' && c.status === 'True') ? s : undefined;
    },
    ms,
  );
}

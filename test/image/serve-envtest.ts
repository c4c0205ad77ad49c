// The real kube-apiserver + etcd (KUBEBUILDER_ASSETS) as a process of its own,
// like test/kube-e2e/serve-api.ts: run inside a test network namespace, it is
// what a container in that namespace reaches on 127.0.0.1. Takes the same
// tokens argument, prints the same JSON line {url, caData, adminToken}, and
// serves until its stdin closes.
import { startEnvtest } from '../support/kube/envtest.js';

const tokens = JSON.parse(process.argv[2] ?? '{}') as Record<string, { name: string; groups: string[] }>;
const env = await startEnvtest({ identities: Object.entries(tokens).map(([token, u]) => ({ token, user: u.name, groups: u.groups })) });
process.stdout.write(`${JSON.stringify({ url: env.url, caData: env.caData, adminToken: env.adminToken })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void env.stop().then(() => process.exit(0)));

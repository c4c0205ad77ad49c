// The test API server as a process of its own, so it can run inside a test
// network namespace next to the agent (which then reaches it on that
// namespace's 127.0.0.1): the in-process one, or with KUBEBUILDER_ASSETS a real
// kube-apiserver + etcd (startApi decides). Takes the users to make tokens for
// as a JSON argument; prints one JSON line {kind, url, caData, adminToken,
// tokens: {user: token}} and serves until its stdin closes.
import type { UserInfo } from '../support/kube/auth-types.js';
import { startApi } from '../support/kube/harness.js';

const users = JSON.parse(process.argv[2] ?? '[]') as UserInfo[];
const api = await startApi({ users });
const tokens = Object.fromEntries(users.map((u) => [u.name, api.tokenFor(u.name)]));
process.stdout.write(`${JSON.stringify({ kind: api.kind, url: api.url, caData: api.caData, adminToken: api.adminToken, tokens })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void api.stop().then(() => process.exit(0)));

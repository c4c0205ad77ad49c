// The in-process test API server as a process of its own, so it can run inside
// a test network namespace next to the agent (which then reaches it on that
// namespace's 127.0.0.1). Prints one JSON line {url, caData, adminToken,
// tokens} and serves until its stdin closes.
import { startTestApiServer } from '../support/kube/server.js';

const tokens = JSON.parse(process.argv[2] ?? '{}') as Record<string, { name: string; groups: string[] }>;
const server = await startTestApiServer({ tokens });
process.stdout.write(`${JSON.stringify({ url: server.url, caData: server.caData, adminToken: server.adminToken })}\n`);
process.stdin.resume();
process.stdin.on('end', () => void server.stop().then(() => process.exit(0)));

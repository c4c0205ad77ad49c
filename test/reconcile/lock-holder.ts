// Run as a separate process (in its own PID namespace by the root-only test):
// takes the state lock, says so on stdout, and holds it until killed.
import { StateLock } from '../../src/reconcile/state-lock.js';

const [dir, staleMs] = process.argv.slice(2);
await new StateLock(dir!, { staleMs: Number(staleMs) }).run(async () => {
  process.stdout.write(`held by pid ${process.pid}\n`);
  await new Promise(() => undefined);
});

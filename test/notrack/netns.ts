// A throwaway network namespace for root-only NOTRACK tests, with a
// synchronous shell inside it. Traffic and the runner: test/support/netns.ts.
import { execFileSync } from 'node:child_process';

/** Creates ctop-<tag>-<pid> with lo up; the caller deletes it in a finally. */
export function createNetns(tag: string): { name: string; sh: (script: string) => string; destroy: () => void } {
  const name = `ctop-${tag}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  const sh = (script: string): string => execFileSync('ip', ['netns', 'exec', name, 'sh', '-ec', script], { encoding: 'utf8', timeout: 20_000 });
  sh('ip link set lo up');
  return { name, sh, destroy: () => execFileSync('ip', ['netns', 'delete', name]) };
}

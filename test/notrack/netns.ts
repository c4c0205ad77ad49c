// A throwaway network namespace for root-only NOTRACK tests, with a
// synchronous shell inside it. Traffic and the runner: test/support/netns.ts.
import { execFileSync } from 'node:child_process';
import type { CommandRunner } from '../../src/kernel/command-runner.js';
import { HostPaths } from '../../src/kernel/host-paths.js';
import type { NotrackHost } from '../../src/kernel/notrack/detect.js';
import { execIn, netnsRunner } from '../support/netns.js';

/** Creates ctop-<tag>-<pid> with lo up; the caller deletes it in a finally. */
export function createNetns(tag: string): { name: string; sh: (script: string) => string; destroy: () => void } {
  const name = `ctop-${tag}-${process.pid}`;
  execFileSync('ip', ['netns', 'add', name]);
  const sh = (script: string): string => execFileSync('ip', ['netns', 'exec', name, 'sh', '-ec', script], { encoding: 'utf8', timeout: 20_000 });
  sh('ip link set lo up');
  return { name, sh, destroy: () => execFileSync('ip', ['netns', 'delete', name]) };
}

/**
 * What the NOTRACK backends take, as the agent has it on a node, inside the
 * namespace: its tools (through `runner`) and its /proc/net (read there by
 * cat; a missing file fails with ENOENT as a read would).
 */
export function notrackHostIn(ns: string, runner: CommandRunner = netnsRunner(ns)): NotrackHost {
  const read = async (path: string): Promise<string> => {
    const r = await execIn(ns, 'cat', [path]);
    if (r.code === 0) return r.stdout;
    const code = /No such file/.test(r.stderr) ? 'ENOENT' : /Permission denied/.test(r.stderr) ? 'EACCES' : undefined;
    throw Object.assign(new Error(`in ${ns}: ${r.stderr.trim()}`), code ? { code } : {});
  };
  return { runner, files: { read }, paths: new HostPaths({ procRoot: '/proc', sysRoot: '/sys' }) };
}

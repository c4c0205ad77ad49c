// One real-kernel agent run for the tests under test/cli: its dir and policy
// file, a test namespace, the agent started in it (or beside it), and a
// cleanup that always stops what the run started, so each test says only what
// differs.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeStatusDoc } from '../../src/api/v1alpha1/status.js';
import { withNetns } from '../support/netns.js';
import { sleeperIn } from '../support/netns-process.js';
import { until } from '../support/until.js';
import { standaloneArgs, startAgent, type RunningAgent } from './cli-support.js';

/** What a real-kernel agent test has while it runs (see withAgent). */
interface AgentRun {
  /** The test namespace. */
  ns: string;
  /** Holds policy.yaml (the policy given), status.json and state/: standaloneArgs(dir). */
  dir: string;
  /** Starts the agent with standaloneArgs(dir) and `args`: inside the namespace, or with `inHost` in the host's beside it. */
  start: (args: string[], opts?: { inHost?: boolean }) => RunningAgent;
  /** A process in the namespace (as a pod has: a census sees the namespace through it), ended with the run. */
  pod: () => Promise<{ pid: number; inode: number }>;
  /** The status file's status; undefined while it is not written yet or being replaced. */
  status: () => Promise<NodeStatusDoc | undefined>;
  /** Polls the status file until `ok` holds of it (for `ms`, until's default without); that status. */
  statusWhen: (what: string, ok: (s: NodeStatusDoc) => boolean | Promise<boolean>, ms?: number) => Promise<NodeStatusDoc>;
  /** Stops the agent (SIGTERM) and waits for it to exit: its exit code. */
  stop: () => Promise<number>;
}

/** Applied=True: the agent has applied the policy. */
export const appliedTrue = (s: NodeStatusDoc): boolean => s.conditions.some((c) => c.type === 'Applied' && c.status === 'True');

/**
 * A real-kernel agent test: a dir holding `policy` as policy.yaml, a test namespace (`tag`), and `fn` run with both.
 * Whatever `fn` does or throws, the agent is stopped and the pod processes ended while the namespace still exists,
 * then the dir is removed. The agent's log (empty if it never started).
 */
export async function withAgent(tag: string, policy: string, fn: (run: AgentRun) => Promise<void>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `ctop-${tag}-`));
  let agent: RunningAgent | null = null;
  const pods: ChildProcess[] = [];
  const statusFile = join(dir, 'status.json');
  const status = async (): Promise<NodeStatusDoc | undefined> => {
    try {
      return (JSON.parse(await readFile(statusFile, 'utf8')) as { status: NodeStatusDoc }).status;
    } catch {
      return undefined;
    }
  };
  try {
    await writeFile(join(dir, 'policy.yaml'), policy);
    await withNetns(tag, async (ns) => {
      const run: AgentRun = {
        ns,
        dir,
        start: (args, { inHost = false } = {}) => {
          if (agent) throw new Error('withAgent runs one agent');
          agent = startAgent([...standaloneArgs(dir), ...args], inHost ? [] : ['ip', 'netns', 'exec', ns]);
          return agent;
        },
        pod: async () => {
          const { child, inode } = await sleeperIn(ns);
          pods.push(child);
          return { pid: child.pid!, inode };
        },
        status,
        statusWhen: async (what, ok, ms) => {
          let last: NodeStatusDoc | undefined;
          try {
            return await until(
              what,
              async () => {
                last = (await status()) ?? last;
                return last && (await ok(last)) ? last : undefined;
              },
              ms,
            );
          } catch (err) {
            // What the agent said last is what tells a slow agent from a wrong one.
            throw new Error(
              `${(err as Error).message}; the last status read: ${last ? JSON.stringify({ conditions: last.conditions, namespaces: last.namespaces }) : 'none'}`,
            );
          }
        },
        stop: async () => {
          if (!agent) throw new Error('no agent started');
          agent.child.kill('SIGTERM');
          return agent.exited;
        },
      };
      try {
        await fn(run);
      } catch (err) {
        process.stderr.write(`# the agent's log (the test failed):\n${(agent as RunningAgent | null)?.log() ?? '(not started)'}\n`);
        throw err;
      } finally {
        const running = agent as RunningAgent | null;
        running?.child.kill('SIGTERM');
        for (const p of pods) p.kill();
        await Promise.all([running?.exited, ...pods.map((p) => (p.exitCode !== null || p.signalCode !== null ? undefined : once(p, 'exit')))]);
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return (agent as RunningAgent | null)?.log() ?? '';
}

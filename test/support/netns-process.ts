// A long-lived process inside a test network namespace: a namespace made by
// `ip netns add` has no process, and a census through /proc/<pid> sees only
// namespaces that have one. The caller kills it (by its pid) in a finally.
import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';

/** `sleep` inside the namespace, once it is really in it; its namespace's inode. */
export async function sleeperIn(ns: string, seconds = 120): Promise<{ child: ChildProcess; inode: number }> {
  const child = spawn('ip', ['netns', 'exec', ns, 'sleep', String(seconds)], { stdio: 'ignore' });
  // `ip netns exec` setns()es then execs sleep: wait until the pid's link is the namespace's, not ours.
  const ours = readlinkSync('/proc/self/ns/net');
  for (let i = 0; i < 100; i++) {
    const link = readlinkSync(`/proc/${child.pid}/ns/net`);
    if (link !== ours) return { child, inode: Number(/\[(\d+)\]/.exec(link)![1]) };
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill();
  throw new Error(`sleep in ${ns} never entered it`);
}

// conntrack-tools ask the kernel over netlink, and the kernel answers for the
// network namespace this process is in. That is the namespace of the tree
// under --proc-root only when the tree is a live procfs this process sees
// (/proc itself, or the host's /proc mounted at /host/proc: its "self" is us).
// A copied tree (a fixture, a support bundle, another host's /proc) is not:
// the live kernel's numbers must never be shown as the tree's own.
import type { Host } from './host.js';
import type { Unreadable } from './unreadable.js';

/** This process's own namespace link: deliberately not under --proc-root. */
export const OWN_NETNS_LINK = '/proc/self/ns/net';

/** Whether `conntrack` run here answers for the tree's namespace. */
export async function netlinkAnswersForTree(host: Pick<Host, 'files' | 'paths'>): Promise<boolean> {
  const { files, paths } = host;
  if (paths.roots.procRoot === '/proc') return true;
  const [tree, own] = await Promise.all([files.readLink(paths.treeNetns()).catch(() => null), files.readLink(OWN_NETNS_LINK).catch(() => null)]);
  return tree !== null && tree === own;
}

/** What a report lists instead of running conntrack for a copied tree. */
export function notRunForTree(what: string, command: string): Unreadable {
  return { what, path: command, code: 'not run: the --proc-root tree is not this kernel', needsRoot: false };
}

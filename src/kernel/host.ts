// The host as every kernel reader reaches it: files under --proc-root/--sys-root,
// the external tools, the clock, and whether we run as root (which decides
// whether a permission error is "run as root" advice). The commands build the
// real one; tests build the same object over fakes (test/support/fake-host.ts).
import { RealCommandRunner, type CommandRunner } from './command-runner.js';
import { HostPaths, type HostRoots } from './host-paths.js';
import { RealKernelFiles, type KernelFiles } from './kernel-files.js';
import { systemClock, type Clock } from '../clock.js';

export interface Host {
  files: KernelFiles;
  paths: HostPaths;
  runner: CommandRunner;
  clock: Clock;
  /** Decides Unreadable.needsRoot: a permission error met as root is not fixed by running as root. */
  isRoot: boolean;
}

export function realHost(roots: HostRoots, isRoot: boolean): Host {
  return {
    files: new RealKernelFiles(),
    paths: new HostPaths({ procRoot: roots.procRoot, sysRoot: roots.sysRoot }),
    runner: new RealCommandRunner(),
    clock: systemClock,
    isRoot,
  };
}

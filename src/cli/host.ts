// The real host, as the commands reach it: files under --proc-root/--sys-root
// and the external tools. Tests build the same object over fakes.
import type { Config } from '../config.js';
import { RealCommandRunner, type CommandRunner } from '../kernel/command-runner.js';
import { HostPaths } from '../kernel/host-paths.js';
import { RealKernelFiles, type KernelFiles } from '../kernel/kernel-files.js';

export interface Host {
  files: KernelFiles;
  paths: HostPaths;
  runner: CommandRunner;
  isRoot: boolean;
}

export function realHost(config: Pick<Config, 'procRoot' | 'sysRoot'>, isRoot: boolean): Host {
  return {
    files: new RealKernelFiles(),
    paths: new HostPaths({ procRoot: config.procRoot, sysRoot: config.sysRoot }),
    runner: new RealCommandRunner(),
    isRoot,
  };
}

// The Host every kernel reader takes, over fakes: the files and paths a test
// gives (a FakeKernel, a fixture tree), no external tools unless given (a
// FakeRunner fails every command like a missing binary), the wall clock
// unless given, not root unless said.
import type { Host } from '../../src/kernel/host.js';
import type { HostPaths } from '../../src/kernel/host-paths.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { FakeRunner } from './fake-runner.js';
import { systemClock } from '../../src/clock.js';

export function fakeHost(files: KernelFiles, paths: HostPaths, over: Partial<Omit<Host, 'files' | 'paths'>> = {}): Host {
  return { files, paths, runner: new FakeRunner(), clock: systemClock, isRoot: false, ...over };
}

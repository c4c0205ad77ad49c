// ObservedState read from a FakeKernel, standing in for src/kernel/observe.ts
// in engine tests: same contract (discovered keys, writability with the
// reason, how buckets can be changed), derived from the fake's files.
import type { HostPaths } from '../../src/kernel/host-paths.js';
import type { ObservedKey, ObservedState } from '../../src/reconcile/observed.js';
import type { FakeFile, FakeKernel } from './fake-kernel.js';

const REFUSAL_REASON: Record<string, string> = {
  EACCES: 'read-only in this network namespace',
  EPERM: 'read-only in this network namespace',
  EROFS: 'read-only file system (mount /sys read-write)',
};

function observedKey(file: FakeFile): ObservedKey | undefined {
  const value = Number(file.content.trim());
  if (!Number.isInteger(value)) return undefined;
  return file.refuse ? { value, writable: false, reason: REFUSAL_REASON[file.refuse]! } : { value, writable: true };
}

export function fakeObserve(kernel: FakeKernel, paths: HostPaths): () => Promise<ObservedState> {
  return async () => {
    const sysctls: Record<string, ObservedKey> = {};
    for (const name of await kernel.list(paths.netfilterDir())) {
      const file = kernel.files.get(paths.sysctl(name));
      const key = file && observedKey(file);
      if (key) sysctls[name] = key;
    }
    const bucketsFile = kernel.files.get(paths.sysctl('nf_conntrack_buckets'));
    const hashsizeFile = kernel.files.get(paths.hashsizeParam());
    const source = bucketsFile ?? hashsizeFile;
    let buckets: ObservedState['buckets'] = null;
    if (source) {
      const value = Number(source.content.trim());
      if (bucketsFile && !bucketsFile.refuse) buckets = { value, via: 'sysctl' };
      else if (hashsizeFile && !hashsizeFile.refuse) buckets = { value, via: 'hashsize' };
      else buckets = { value, via: null, reason: `nf_conntrack_buckets and hashsize: ${REFUSAL_REASON[(hashsizeFile ?? bucketsFile)!.refuse!]}` };
    }
    return { sysctls, buckets, hostNetns: null };
  };
}

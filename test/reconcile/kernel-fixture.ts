// A FakeKernel laid out like this kernel's conntrack files (values seen on the
// development VM), with the buckets sysctl and the hashsize parameter coupled
// and rounded up to whole 4 KiB pages of bucket heads, as the kernel does.
import { HostPaths } from '../../src/kernel/host-paths.js';
import { FakeKernel, type ReadRefusal, type WriteRefusal } from '../support/fake-kernel.js';

export const paths = new HostPaths({ procRoot: '/proc', sysRoot: '/sys' });

export const DEFAULT_VALUES: Record<string, number> = {
  nf_conntrack_max: 262144,
  nf_conntrack_tcp_timeout_established: 432000,
  nf_conntrack_tcp_timeout_close_wait: 60,
  nf_conntrack_tcp_timeout_time_wait: 120,
  nf_conntrack_tcp_timeout_fin_wait: 120,
  nf_conntrack_tcp_timeout_syn_sent: 120,
  nf_conntrack_udp_timeout: 30,
  nf_conntrack_udp_timeout_stream: 120,
  nf_conntrack_icmp_timeout: 30,
  nf_conntrack_tcp_be_liberal: 0,
};

export interface KernelOptions {
  /** Values overriding DEFAULT_VALUES. */
  values?: Record<string, number>;
  /** Write refusals by sysctl name, or 'hashsize' / 'nf_conntrack_buckets'. */
  refuse?: Record<string, WriteRefusal>;
  /** Read refusals by sysctl name (a key listed but hidden from this user or namespace). */
  refuseRead?: Record<string, ReadRefusal>;
  buckets?: number;
}

export function conntrackKernel(options: KernelOptions = {}): FakeKernel {
  const kernel = new FakeKernel();
  const refuse = options.refuse ?? {};
  const values = { ...DEFAULT_VALUES, ...options.values };
  for (const [name, value] of Object.entries(values)) {
    // EACCES on a sysctl is what the kernel's mode 0444 gives (global keys outside the host namespace).
    const refuseRead = options.refuseRead?.[name];
    kernel.set(paths.sysctl(name), {
      content: `${value}\n`,
      ...(refuse[name] ? { refuse: refuse[name], ...(refuse[name] === 'EACCES' ? { mode: 0o444 } : {}) } : {}),
      ...(refuseRead ? { refuseRead } : {}),
    });
  }
  kernel.set(paths.sysctl('nf_conntrack_count'), { content: '12\n', refuse: 'EACCES', mode: 0o444 });
  const buckets = `${options.buckets ?? 262144}\n`;
  const resize = (value: string, k: FakeKernel): void => {
    const rounded = `${Math.ceil(Number(value) / 512) * 512}\n`;
    k.files.get(paths.sysctl('nf_conntrack_buckets'))!.content = rounded;
    k.files.get(paths.hashsizeParam())!.content = rounded;
  };
  const bucketFile = (refusal?: WriteRefusal) => ({
    content: buckets,
    accept: (v: string) => Number(v) > 0,
    onWrite: resize,
    ...(refusal ? { refuse: refusal, ...(refusal === 'EACCES' ? { mode: 0o444 } : {}) } : {}),
  });
  kernel.set(paths.sysctl('nf_conntrack_buckets'), bucketFile(refuse.nf_conntrack_buckets));
  kernel.set(paths.hashsizeParam(), bucketFile(refuse.hashsize));
  return kernel;
}

/** Every file's value, to compare the kernel before and after a run. */
export function snapshot(kernel: FakeKernel): Record<string, string | undefined> {
  return Object.fromEntries([...kernel.files.keys()].map((p) => [p, kernel.value(p)]));
}

// Which kernel file each policy field sets, the kernel's own defaults, and the
// keys kube-proxy writes. Sysctl keys are file names under /proc/sys/net/netfilter.

/** Timeout fields (path under spec.timeouts) -> sysctl file name. */
export const TIMEOUT_SYSCTLS: Readonly<Record<string, string>> = {
  'tcp.synSentSeconds': 'nf_conntrack_tcp_timeout_syn_sent',
  'tcp.synRecvSeconds': 'nf_conntrack_tcp_timeout_syn_recv',
  'tcp.establishedSeconds': 'nf_conntrack_tcp_timeout_established',
  'tcp.finWaitSeconds': 'nf_conntrack_tcp_timeout_fin_wait',
  'tcp.closeWaitSeconds': 'nf_conntrack_tcp_timeout_close_wait',
  'tcp.lastAckSeconds': 'nf_conntrack_tcp_timeout_last_ack',
  'tcp.timeWaitSeconds': 'nf_conntrack_tcp_timeout_time_wait',
  'tcp.closeSeconds': 'nf_conntrack_tcp_timeout_close',
  'tcp.maxRetransSeconds': 'nf_conntrack_tcp_timeout_max_retrans',
  'tcp.unacknowledgedSeconds': 'nf_conntrack_tcp_timeout_unacknowledged',
  'udp.unrepliedSeconds': 'nf_conntrack_udp_timeout',
  'udp.streamSeconds': 'nf_conntrack_udp_timeout_stream',
  icmpSeconds: 'nf_conntrack_icmp_timeout',
  icmpv6Seconds: 'nf_conntrack_icmpv6_timeout',
  genericSeconds: 'nf_conntrack_generic_timeout',
};

export const MAX_SYSCTL = 'nf_conntrack_max';
const BUCKETS_SYSCTL = 'nf_conntrack_buckets';
/** Module parameter under /sys/module/nf_conntrack/parameters. */
const HASHSIZE_PARAM = 'hashsize';

/**
 * Kernel defaults of the timeouts, read on Linux 6.18 in a fresh network
 * namespace (which starts at the defaults). udp stream is 180 on some older
 * kernels; the table size defaults depend on RAM, so they are not listed.
 */
export const KERNEL_DEFAULT_TIMEOUTS: Readonly<Record<string, number>> = {
  nf_conntrack_tcp_timeout_syn_sent: 120,
  nf_conntrack_tcp_timeout_syn_recv: 60,
  nf_conntrack_tcp_timeout_established: 432000,
  nf_conntrack_tcp_timeout_fin_wait: 120,
  nf_conntrack_tcp_timeout_close_wait: 60,
  nf_conntrack_tcp_timeout_last_ack: 30,
  nf_conntrack_tcp_timeout_time_wait: 120,
  nf_conntrack_tcp_timeout_close: 10,
  nf_conntrack_tcp_timeout_max_retrans: 300,
  nf_conntrack_tcp_timeout_unacknowledged: 300,
  nf_conntrack_udp_timeout: 30,
  nf_conntrack_udp_timeout_stream: 120,
  nf_conntrack_icmp_timeout: 30,
  nf_conntrack_icmpv6_timeout: 30,
  nf_conntrack_generic_timeout: 600,
};

/**
 * Keys kube-proxy writes at start-up (conntrack.maxPerCore/min,
 * tcpEstablishedTimeout, tcpCloseWaitTimeout, optional udp timeouts and
 * tcpBeLiberal), so drift on them can name kube-proxy as the likely writer.
 */
const KUBE_PROXY_SYSCTLS: ReadonlySet<string> = new Set([
  'nf_conntrack_max',
  'nf_conntrack_tcp_timeout_established',
  'nf_conntrack_tcp_timeout_close_wait',
  'nf_conntrack_udp_timeout',
  'nf_conntrack_udp_timeout_stream',
  'nf_conntrack_tcp_be_liberal',
]);

/**
 * True when kube-proxy is known to write this key. It also raises the hashsize
 * module parameter (to max/4), which shows as nf_conntrack_buckets.
 */
export function kubeProxyWrites(key: string): boolean {
  return KUBE_PROXY_SYSCTLS.has(key) || key === HASHSIZE_PARAM || key === BUCKETS_SYSCTL;
}

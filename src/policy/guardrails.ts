// Guardrails: values that are valid but dangerous are refused unless the
// policy opts in. Each check returns the reason for refusing, or undefined.
import { cidrsOverlap, familyCoveredBy, formatCidr, parseCidr, type Cidr } from './cidr.js';
import { EXPLICIT_TABLE_BUDGET_PERCENT, tableBytes } from './sizing.js';
import type { PressureResponseSpec } from './normalize.js';
import type { DesiredNotrackRule, PortRange } from './types.js';

/**
 * Safe floors (seconds) per timeout sysctl, with why going lower hurts. They
 * admit the field notes' aggressive settings (syn 5, established 600,
 * fin/time/close_wait and last_ack 10) and refuse what breaks connections.
 */
export const SAFE_FLOORS: Readonly<Record<string, { seconds: number; why: string }>> = {
  nf_conntrack_tcp_timeout_established: { seconds: 300, why: 'idle keep-alive connections would lose their entry and break' },
  nf_conntrack_tcp_timeout_syn_sent: { seconds: 5, why: 'slow handshakes (SYN retransmits at 1 s, 3 s) would fail' },
  nf_conntrack_tcp_timeout_syn_recv: { seconds: 5, why: 'slow handshakes (SYN-ACK retransmits) would fail' },
  nf_conntrack_tcp_timeout_fin_wait: { seconds: 10, why: 'a retransmitted FIN would find no entry' },
  nf_conntrack_tcp_timeout_close_wait: { seconds: 10, why: 'half-closed connections still sending would lose their entry' },
  nf_conntrack_tcp_timeout_last_ack: { seconds: 10, why: 'a retransmitted last ACK would find no entry' },
  nf_conntrack_tcp_timeout_time_wait: { seconds: 10, why: 'late retransmissions of the closing segments would find no entry' },
  nf_conntrack_tcp_timeout_max_retrans: { seconds: 30, why: 'connections recovering from packet loss would lose their entry' },
  nf_conntrack_tcp_timeout_unacknowledged: { seconds: 30, why: 'connections waiting for an ACK would lose their entry' },
  nf_conntrack_udp_timeout: { seconds: 5, why: 'replies slower than the timeout (DNS retries) would not match their request' },
  nf_conntrack_udp_timeout_stream: { seconds: 30, why: 'quiet UDP streams (VPNs, QUIC) would lose their NAT mapping' },
  nf_conntrack_icmp_timeout: { seconds: 5, why: 'slow ICMP echo replies would not match their request' },
  nf_conntrack_icmpv6_timeout: { seconds: 5, why: 'slow ICMPv6 replies would not match their request' },
  nf_conntrack_generic_timeout: { seconds: 60, why: 'tunnels and other protocols would lose their entry between packets' },
};

/** Why `seconds` is too low for this key, or undefined when it is at or above the key's safe floor (or the key has none). */
function belowSafeFloor(sysctl: string, seconds: number): string | undefined {
  const floor = SAFE_FLOORS[sysctl];
  if (!floor || seconds >= floor.seconds) return undefined;
  return `${seconds}s is below the safe floor of ${floor.seconds}s (${floor.why})`;
}

export function timeoutRefusal(sysctl: string, seconds: number, allowBelowSafeFloor: boolean): string | undefined {
  const below = allowBelowSafeFloor ? undefined : belowSafeFloor(sysctl, seconds);
  return below && `${below}; set spec.timeouts.allowBelowSafeFloor: true to allow it`;
}

/**
 * A pressure response acts by itself, on a busy node, for as long as usage
 * stays high: it never goes below the safe floors, and there is no opt-in.
 * Every timeout below its floor is named.
 */
export function pressureResponseRefusal(response: PressureResponseSpec): string | undefined {
  const below = Object.entries(response.timeouts).flatMap(([sysctl, seconds]) => {
    const why = belowSafeFloor(sysctl, seconds);
    return why ? [`${response.fields[sysctl] ?? sysctl}: ${why}`] : [];
  });
  if (below.length === 0) return undefined;
  return `${below.join('; ')}; a pressure response never goes below the safe floors (spec.timeouts.allowBelowSafeFloor does not apply to it)`;
}

/** The node's Service and Pod ranges; null on a Kubernetes node where they are not known (absent or empty: none to protect). */
export interface ClusterCidrs {
  serviceCidrs?: readonly string[] | null;
  podCidrs?: readonly string[] | null;
}

/**
 * Where no Service or Pod range of a working cluster lies: addresses that are
 * never routed off the node. Pod addresses must reach other nodes, and a
 * ClusterIP in link-local space would shadow what every node has there (the
 * cloud metadata address, node-local DNS's 169.254.20.10).
 */
const NODE_LOCAL_RANGES = ['127.0.0.0/8', '::1/128', '169.254.0.0/16', 'fe80::/10'];

/** Begins every refusal for ranges that are not known (the status lists those rules). */
const RANGES_UNKNOWN = 'needs the Service and Pod ranges, and this node does not know its';

export function refusedForUnknownRanges(message: string): boolean {
  return message.startsWith(RANGES_UNKNOWN);
}

/**
 * Rules whose every destination is node-local are safe whatever the ranges.
 * Interface lo alone is not enough: it also carries the node's connections to
 * ClusterIPs that kube-proxy binds locally (IPVS mode). Any other rule could match Service or Pod
 * traffic somewhere in ranges nobody told us, so on a Kubernetes node whose
 * ranges are not known it is refused rather than allowed blindly.
 */
function unknownRangesRefusal(rule: DesiredNotrackRule, cluster: ClusterCidrs, optIn: string): string | undefined {
  const unknown = [cluster.serviceCidrs === null ? 'Service' : '', cluster.podCidrs === null ? 'Pod' : ''].filter(Boolean);
  if (unknown.length === 0) return undefined;
  const local = cidrsOf(NODE_LOCAL_RANGES);
  const destinations = cidrsOf(rule.destinations ?? []);
  // d lies within l: they overlap, and l is the wider.
  if (destinations.length > 0 && destinations.every((d) => local.some((l) => cidrsOverlap(l, d) && l.prefix <= d.prefix))) return undefined;
  return (
    `${RANGES_UNKNOWN} ${unknown.join(' and ')} ranges (see the ClusterCidrsKnown condition), so it could untrack traffic to Services or Pods, which needs conntrack; ` +
    `give the ranges (chart values agent.serviceCidrs / agent.podCidrs, flags --service-cidr / --pod-cidr), make it node-local ` +
    `(destinations within ${NODE_LOCAL_RANGES.join(', ')}), or ${optIn}`
  );
}

/**
 * A NOTRACK rule is refused (unless allowBroadMatch) when it
 * - matches all traffic, or all of a protocol (no interface, ports, or
 *   addresses narrower than /0);
 * - has a source or destination overlapping the Service or Pod CIDRs: those
 *   flows need DNAT (Services), SNAT (pod egress) or stateful NetworkPolicy;
 * - on a Kubernetes node whose Service or Pod ranges are not known, is not
 *   node-local (see unknownRangesRefusal);
 * - on a node with known Service/Pod CIDRs, names no destinations: a rule by
 *   port or interface alone also catches packets forwarded to pods and
 *   ClusterIPs on the same ports, so it must say which addresses it is for.
 *   (Sources alone do not help: a client's flows to a Service come from
 *   outside addresses too.) lo is no exception: it carries the node's own
 *   connections to its addresses, NodePorts and hostPorts among them, and to
 *   ClusterIPs where kube-proxy binds them locally (IPVS mode).
 * Off Kubernetes (no ranges, none needed) only the first check applies. Whether
 * a NAT rule on the node rewrites what a rule would untrack is not guessed
 * from CIDRs: the agent checks it against the node's own NAT rules every pass
 * (reconcile/nat-guard.ts) and withholds the rule.
 */
export function notrackRefusal(rule: DesiredNotrackRule, allowBroadMatch: boolean, cluster: ClusterCidrs): string | undefined {
  if (allowBroadMatch) return undefined;
  const optIn = 'set allowBroadMatch: true on the rule to allow it';
  // Judged by meaning, not syntax: iptables reads "+" as every interface, ports
  // 1-65535 are every port, and CIDRs whose union is a whole family (a /0, or
  // 0.0.0.0/1 + 128.0.0.0/1) are every address. A protocol alone still matches
  // every flow of that protocol.
  const restricting = (list: string[] | undefined) => list !== undefined && list.length > 0 && familyCoveredBy(cidrsOf(list)) === undefined;
  const narrows = {
    interface: rule.interface !== undefined && rule.interface !== '+',
    ports: rule.ports !== undefined && !coversEveryPort(rule.ports),
    addresses: restricting(rule.sources) || restricting(rule.destinations),
  };
  if (!narrows.interface && !narrows.ports && !narrows.addresses) {
    const what = rule.protocol ? `all ${rule.protocol} traffic` : 'all traffic';
    return `matches ${what} (its interface, ports and addresses, if any, cover everything: "+" is every interface, 1-65535 every port, CIDRs that together span a whole IP family every address), which disables NAT and stateful filtering for it; ${optIn}`;
  }
  const clusterCidrs = [
    ...(cluster.serviceCidrs ?? []).map((text) => ({ text, kind: 'Service' })),
    ...(cluster.podCidrs ?? []).map((text) => ({ text, kind: 'Pod' })),
  ].flatMap(({ text, kind }) => {
    const parsed = parseCidr(text);
    return parsed.ok ? [{ cidr: parsed.cidr, kind }] : [];
  });
  const unknownRanges = unknownRangesRefusal(rule, cluster, optIn);
  for (const list of ['sources', 'destinations'] as const) {
    for (const text of rule[list] ?? []) {
      const parsed = parseCidr(text);
      if (!parsed.ok) continue; // validated earlier; normalised rules hold canonical CIDRs
      const hit = clusterCidrs.find((c) => cidrsOverlap(parsed.cidr, c.cidr));
      if (hit) {
        return `${list} ${text} overlaps the ${hit.kind} CIDR ${formatCidr(hit.cidr)}: ${hit.kind} traffic needs conntrack for NAT and network policy; ${optIn}`;
      }
    }
  }
  if (unknownRanges) return unknownRanges;
  if (clusterCidrs.length > 0 && !rule.destinations) {
    return `names no destinations, so on this node it would also match traffic to Pods and Services (${clusterCidrs.map((c) => formatCidr(c.cidr)).join(', ')}), which needs conntrack; add destinations (e.g. this node's address) or ${optIn}`;
  }
  return undefined;
}

function cidrsOf(list: readonly string[]): Cidr[] {
  return list.flatMap((text) => {
    const parsed = parseCidr(text);
    return parsed.ok ? [parsed.cidr] : [];
  });
}

/** Whether the ranges together cover every port, 1 to 65535. */
function coversEveryPort(ports: readonly PortRange[]): boolean {
  let next = 1; // every port below this is covered
  for (const p of [...ports].sort((a, b) => a.from - b.from)) {
    if (p.from > next) return false;
    next = Math.max(next, p.to + 1);
  }
  return next > 65535;
}

export interface TableMemoryFacts {
  memTotalBytes?: number;
  slabObjectSize: number;
}

/** An explicit table size is refused when it would cost more than EXPLICIT_TABLE_BUDGET_PERCENT of RAM. Unknown RAM: not checked. */
export function tableMemoryRefusal(max: number, buckets: number, facts: TableMemoryFacts): string | undefined {
  if (facts.memTotalBytes === undefined) return undefined;
  const bytes = tableBytes(max, buckets, facts.slabObjectSize);
  const budget = (facts.memTotalBytes * EXPLICIT_TABLE_BUDGET_PERCENT) / 100;
  if (bytes <= budget) return undefined;
  return (
    `table would use ${mib(bytes)} MiB (max ${max} x ${facts.slabObjectSize} B + buckets ${buckets} x 8 B), ` +
    `more than ${EXPLICIT_TABLE_BUDGET_PERCENT}% of node RAM (${mib(budget)} of ${mib(facts.memTotalBytes)} MiB); lower max/buckets or use autoSize`
  );
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

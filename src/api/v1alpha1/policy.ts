// The ConntrackPolicy API. This file is the single source of truth: the
// standalone agent validates policy files with it, and `npm run gen:crds`
// turns it into the CRD's openAPIV3Schema. So: no transforms here (they have
// no JSON Schema form); normalising (ports to ranges, canonical CIDRs)
// happens in normalize.ts, after validation.
// API conventions: a field with a unit in its name holds an integer of that
// unit (timeouts are ...Seconds, never a duration string: "10m" in a field
// named establishedSeconds would read wrong in kubectl explain and in diffs);
// percentages are integers.
import { z } from 'zod';
import { GROUP_VERSION, POLICY_RESOURCE } from './names.js';
import { DEFAULT_PRESSURE, DNS_SUBDOMAIN } from './policy-rules.js';

// Patterns are exported so that load.ts can turn "must match /.../" into a
// readable reason. They must stay RE2-compatible (no lookaround): the API
// server checks the CRD's `pattern` with Go's regexp.
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const PORT_RANGE = /^[0-9]{1,5}(-[0-9]{1,5})?$/;
// IPv4 or IPv6 CIDR (or bare address); the exact check is in cidr.ts.
export const CIDR = /^[0-9a-fA-F:.]+(\/[0-9]{1,3})?$/;
export const INTERFACE_NAME = /^[a-zA-Z0-9_.:@+-]{1,15}$/;

/** A timeout: whole seconds, at most what the kernel's int sysctl holds. */
const Seconds = z.number().int().min(1).max(2147483647);

export const LabelSelectorRequirement = z
  .object({
    key: z.string().min(1).max(317).describe('The label key the requirement applies to.'),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe('How the key relates to the values.'),
    values: z.array(z.string().max(63)).max(64).optional().describe('Values for In and NotIn (non-empty there); must be empty for Exists and DoesNotExist.'),
  })
  .strict()
  .describe('A label selector requirement, as in Kubernetes label selectors.');

const NodeSelector = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional().describe('Node labels that must all be present with these values.'),
    matchExpressions: z.array(LabelSelectorRequirement).max(32).optional().describe('Requirements that must all hold.'),
  })
  .strict()
  .describe('Which nodes this policy applies to; empty or absent selects every node.');

const AutoSize = z
  .object({
    memoryBudgetPercent: z
      .number()
      .int()
      .min(1)
      .max(25)
      .default(2)
      .describe('Share of node RAM (whole percent) the conntrack table may use: max x slab object size + buckets x 8 bytes.'),
    targetUsagePercent: z.number().int().min(10).max(90).default(50).describe('Size max so that the observed entry count is at most this share of it.'),
    minMax: z.number().int().min(1024).optional().describe('Floor for the computed nf_conntrack_max.'),
    maxMax: z.number().int().min(1024).optional().describe('Ceiling for the computed nf_conntrack_max.'),
    growAheadSeconds: z
      .number()
      .int()
      .min(10)
      .max(120)
      .default(60)
      .describe(
        "Act this far ahead of a full table: when the agent's forecast says a namespace is full within this many seconds (the FillingUp horizon too), max grows at once to hold the forecast count this far ahead at the target usage. At most 120: a trend is trusted no further than three times the forecast's longest window (40 s).",
      ),
    shrinkAfterSeconds: z
      .number()
      .int()
      .min(300)
      .max(604800)
      .optional()
      .describe(
        'Give back after a surge: once the table has been calm this long (no namespace filling up or dropping, the fullest needing under a quarter of max at the target usage), max halves, and again after as long, never below minMax nor below what the fullest namespace needs; buckets follow. Absent: max only grows.',
      ),
  })
  .strict()
  .describe('Size the table from the node: its RAM, the kernel slab object size, and the observed table pressure.');

export const Table = z
  .object({
    max: z.number().int().min(1024).max(2147483647).optional().describe('nf_conntrack_max: the most entries the table may hold.'),
    buckets: z
      .number()
      .int()
      .min(1024)
      .max(67108864)
      .optional()
      .describe('Hash buckets (nf_conntrack_buckets, or the hashsize module parameter on old kernels).'),
    autoSize: AutoSize.optional(),
  })
  .strict()
  .describe('Table size. Give max and/or buckets, or autoSize, not both.');

export const TcpTimeouts = z
  .object({
    synSentSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_syn_sent (kernel default 120s).'),
    synRecvSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_syn_recv (kernel default 60s).'),
    establishedSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_established (kernel default 432000s = 5 days).'),
    finWaitSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_fin_wait (kernel default 120s).'),
    closeWaitSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_close_wait (kernel default 60s).'),
    lastAckSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_last_ack (kernel default 30s).'),
    timeWaitSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_time_wait (kernel default 120s).'),
    closeSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_close (kernel default 10s).'),
    maxRetransSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_max_retrans (kernel default 300s).'),
    unacknowledgedSeconds: Seconds.optional().describe('nf_conntrack_tcp_timeout_unacknowledged (kernel default 300s).'),
  })
  .strict()
  .describe('TCP timeouts per conntrack state.');

export const UdpTimeouts = z
  .object({
    unrepliedSeconds: Seconds.optional().describe('nf_conntrack_udp_timeout: flows that saw no reply (kernel default 30s).'),
    streamSeconds: Seconds.optional().describe('nf_conntrack_udp_timeout_stream: flows with replies (kernel default 120s; 180s on some kernels).'),
  })
  .strict()
  .describe('UDP timeouts.');

export const Timeouts = z
  .object({
    tcp: TcpTimeouts.optional(),
    udp: UdpTimeouts.optional(),
    icmpSeconds: Seconds.optional().describe('nf_conntrack_icmp_timeout (kernel default 30s).'),
    icmpv6Seconds: Seconds.optional().describe('nf_conntrack_icmpv6_timeout (kernel default 30s).'),
    genericSeconds: Seconds.optional().describe('nf_conntrack_generic_timeout (kernel default 600s).'),
    allowBelowSafeFloor: z
      .boolean()
      .default(false)
      .describe('Allow timeouts below the safe floors (e.g. tcp established < 300s, syn_sent < 5s), which break idle or slow connections.'),
  })
  .strict()
  .describe('Per-protocol, per-state timeouts: how long an idle entry stays in the table.');

/** The timeouts a pressure response puts in place: spec.timeouts' fields, with no way below the safe floors. */
const PressureTimeouts = Timeouts.omit({ allowBelowSafeFloor: true }).describe(
  "Timeouts in force while the response is active, where lower than the policy's own (or, for a key the policy does not set, the node's own); never below the safe floors.",
);

export const PressureResponse = z
  .object({
    startPercent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(80)
      .describe(
        "Usage (count / max, whole percent) of the agent's own network namespace (the host's, with hostNetwork) at which the shorter timeouts take effect.",
      ),
    stopPercent: z
      .number()
      .int()
      .min(0)
      .max(99)
      .default(60)
      .describe("Usage below which the response ends and the policy's own timeouts come back; must be below startPercent."),
    timeouts: PressureTimeouts,
  })
  .strict()
  .describe(
    "Expire sooner under pressure: from startPercent until usage falls below stopPercent, these timeouts replace the policy's own where lower. They are written in the agent's own network namespace only, like spec.timeouts.",
  );

export const PortSpec = z
  .union([z.number().int().min(1).max(65535), z.string().regex(PORT_RANGE)])
  .describe('A port (443) or an inclusive range ("8000-8100").');

export const NotrackRule = z
  .object({
    name: z.string().regex(DNS_LABEL).max(28).describe('Unique rule name; it appears in the rule comment.'),
    interface: z.string().regex(INTERFACE_NAME).optional().describe('Interface name: -i on packets coming in, -o on packets going out.'),
    protocol: z.enum(['tcp', 'udp']).optional().describe('L4 protocol; required when ports are given.'),
    ports: z
      .array(PortSpec)
      .min(1)
      .max(15)
      .optional()
      .describe('Service ports: the side of the flow that listens (this host for inbound, the peer for outbound).'),
    sources: z.array(z.string().regex(CIDR)).max(32).optional().describe('CIDRs the flow is initiated from.'),
    destinations: z.array(z.string().regex(CIDR)).max(32).optional().describe('CIDRs the flow is initiated to.'),
    direction: z
      .enum(['inbound', 'outbound', 'both'])
      .default('both')
      .describe('Which flows: inbound (initiated to this host), outbound (initiated by it) or both. Both packet directions of a matched flow are untracked.'),
    allowBroadMatch: z
      .boolean()
      .default(false)
      .describe('Allow a rule that matches all traffic or overlaps the Service/Pod CIDRs (which breaks NAT for them).'),
  })
  .strict()
  .describe('A raw-table NOTRACK rule: matching traffic is not tracked and never fills the table.');

export const Pressure = z
  .object({
    warningPercent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(DEFAULT_PRESSURE.warningPercent)
      .describe('Usage (count / max, whole percent) at which the Pressure condition turns on.'),
    criticalPercent: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(DEFAULT_PRESSURE.criticalPercent)
      .describe('Usage (whole percent) at which pressure is critical.'),
  })
  .strict()
  .describe('Table usage thresholds for conditions, events and metrics.');

export const PolicySpec = z
  .object({
    nodeSelector: NodeSelector.optional(),
    priority: z
      .number()
      .int()
      .min(-1000)
      .max(1000)
      .default(0)
      .describe('When several policies select a node, the higher priority wins per field; equal priorities with different values conflict.'),
    mode: z
      .enum(['Enforce', 'DryRun'])
      .default('Enforce')
      .describe(
        'Enforce changes the node; DryRun only reports what it would change (the plan, not drift): nothing is written, and what an Enforce policy set before is given back.',
      ),
    table: Table.optional(),
    timeouts: Timeouts.optional(),
    notrack: z.array(NotrackRule).max(32).optional().describe('Raw-table NOTRACK rules, in our own chains.'),
    // No default on purpose: merging by priority must tell "not said" from "false".
    acceptUntracked: z
      .boolean()
      .optional()
      .describe('Accept --ctstate UNTRACKED first in filter INPUT (in our own chain), so stateful rules do not drop untracked packets. Absent means false.'),
    pressure: Pressure.optional(),
    pressureResponse: PressureResponse.optional(),
  })
  .strict()
  .describe('Desired conntrack settings for the selected nodes.');

const PolicyMetadata = z
  .object({
    name: z.string().regex(DNS_SUBDOMAIN).max(253),
    generation: z.number().int().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();

/** A whole ConntrackPolicy document, as in a policy file or from the API. */
export const ConntrackPolicy = z.object({
  apiVersion: z.literal(GROUP_VERSION),
  kind: z.literal(POLICY_RESOURCE.kind),
  metadata: PolicyMetadata,
  spec: PolicySpec,
  status: z.unknown().optional(),
});

export type PolicySpecInput = z.input<typeof PolicySpec>;
export type PolicySpecParsed = z.output<typeof PolicySpec>;
export type ConntrackPolicyDoc = z.output<typeof ConntrackPolicy>;
export type NotrackRuleSpec = z.output<typeof NotrackRule>;
export type LabelSelector = z.output<typeof NodeSelector>;

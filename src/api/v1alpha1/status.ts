// The status API: ConntrackStatus.status (one object per node, written by the
// agent) and ConntrackPolicy.status (written by the controller). Like
// policy.ts this is a source of the CRD schemas (`npm run
// gen:crds`), so every field has a description (it becomes `kubectl explain`
// text) and there are no transforms.
import { z } from 'zod';

const Count = z.number().int().min(0);
const NonNegative = z.number().min(0);
/** RFC 3339 time in UTC, as Kubernetes writes metav1.Time. */
const Timestamp = z.iso.datetime();

const ConditionStatus = z.enum(['True', 'False', 'Unknown']);

/** metav1.Condition, with the condition types of one kind. */
function conditionSchema<const T extends readonly [string, ...string[]]>(types: T, typeHelp: string) {
  return z
    .strictObject({
      type: z.enum(types).describe(typeHelp),
      status: ConditionStatus.describe('True, False or Unknown.'),
      reason: z
        .string()
        .min(1)
        .max(1024)
        .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
        .describe('Machine-readable CamelCase reason for the last transition.'),
      message: z.string().max(32768).describe('Human-readable details of the last transition.'),
      lastTransitionTime: Timestamp.describe('When status last changed.'),
      observedGeneration: Count.describe('metadata.generation the condition was computed from.'),
    })
    .describe('A condition, as metav1.Condition.');
}

/** A list's names by themselves, `{ Ready: 'Ready', ... }`: derived, so the list and the map cannot disagree. */
function byName<const T extends readonly string[]>(names: T): { readonly [K in T[number]]: K } {
  return Object.fromEntries(names.map((n) => [n, n])) as { readonly [K in T[number]]: K };
}

export const NodeConditionType = [
  'Ready',
  'Applied',
  'Drifted',
  'Pressure',
  'TableFull',
  'InsertionRace',
  'FillingUp',
  'PressureResponse',
  'ClusterCidrsKnown',
  'NotrackWithheld',
] as const;
export type NodeConditionTypeName = (typeof NodeConditionType)[number];
/** Each node condition type by name (`NodeConditions.TableFull`): code matches these, never a string literal. */
export const NodeConditions = byName(NodeConditionType);
/**
 * The reasons each node condition gives, by type: part of the API (kstatus,
 * alert routing and the controller match them). Ready, when False, takes the
 * reason of what failed: an Applied failure reason, or TableFull / InsertionRace.
 */
export const NodeReasons = {
  Ready: { Ready: 'Ready' },
  Applied: {
    Applied: 'Applied',
    NotInSync: 'NotInSync',
    DryRun: 'DryRun',
    NoPolicy: 'NoPolicy',
    Restored: 'Restored',
    RestoreFailed: 'RestoreFailed',
    ApplyFailed: 'ApplyFailed',
    Error: 'Error',
  },
  Drifted: { Drift: 'Drift', Fighting: 'Fighting', InSync: 'InSync', NotChecked: 'NotChecked' },
  Pressure: { Critical: 'Critical', Warning: 'Warning', Normal: 'Normal', Unreadable: 'Unreadable' },
  TableFull: {
    /** The agent's own (the host's) namespace drops, maybe others too. */
    Dropping: 'Dropping',
    /** Only namespaces other than the agent's drop: each also has its own event. */
    NamespaceDropping: 'NamespaceDropping',
    KernelReportedFull: 'KernelReportedFull',
    NotDropping: 'NotDropping',
    FirstSample: 'FirstSample',
    CountersUnreadable: 'CountersUnreadable',
  },
  InsertionRace: { RaceDrops: 'RaceDrops', NoRaceDrops: 'NoRaceDrops', FirstSample: 'FirstSample', CountersUnreadable: 'CountersUnreadable' },
  FillingUp: { FillingUp: 'FillingUp', NotFilling: 'NotFilling', NoForecast: 'NoForecast' },
  PressureResponse: { Active: 'Active', Inactive: 'Inactive', NotConfigured: 'NotConfigured' },
  ClusterCidrsKnown: { Known: 'Known', Unknown: 'Unknown', NotKubernetes: 'NotKubernetes' },
  NotrackWithheld: { NatOverlap: 'NatOverlap', NatRulesUnreadable: 'NatRulesUnreadable', NoneWithheld: 'NoneWithheld', NotChecked: 'NotChecked' },
} as const satisfies { [T in NodeConditionTypeName]: Record<string, string> };

export const NodeCondition = conditionSchema(
  NodeConditionType,
  'Ready: the node follows its policy (or has none) and drops no packets in any network namespace; False names the first problem. Applied: the policy is in effect on the node. Drifted: a key moved away from the value the agent applied. ' +
    "Pressure: the fullest network namespace (the host's or a pod's) is above the warning threshold. TableFull: the kernel is dropping new connections because a namespace's table is full. " +
    'InsertionRace: packets of new flows are dropped because two of them raced to insert the same entry (the UDP/DNS race), whatever the fill. ' +
    'FillingUp: the forecast says the fullest namespace will be full within the horizon, before any drop; Unknown until the watch has enough samples. ' +
    "PressureResponse: the policy's pressure response has shorter timeouts in force (reasons Active, Inactive, NotConfigured). " +
    'ClusterCidrsKnown: the Service and Pod ranges NOTRACK rules must stay off are known (the message says which and from where); False refuses the rules that depend on them. ' +
    "NotrackWithheld: NOTRACK rules of the policy are not applied because a NAT rule on the node rewrites packets they would untrack (NatOverlap), or because the node's NAT rules cannot be read (NatRulesUnreadable).",
);

export const PolicyConditionType = ['Ready', 'Degraded', 'Conflict', 'Rejected'] as const;
export type PolicyConditionTypeName = (typeof PolicyConditionType)[number];
/** Each policy condition type by name (`PolicyConditions.Ready`): code matches these, never a string literal. */
export const PolicyConditions = byName(PolicyConditionType);
/** The reasons each policy condition gives, by type: part of the API, as NodeReasons. */
export const PolicyReasons = {
  Ready: { AllInSync: 'AllInSync', NoNodesSelected: 'NoNodesSelected', NotAllInSync: 'NotAllInSync', Rejected: 'Rejected' },
  Degraded: { NodesFailed: 'NodesFailed', NodesDrifted: 'NodesDrifted', Healthy: 'Healthy' },
  Conflict: { EqualPriority: 'EqualPriority', NoConflict: 'NoConflict' },
  Rejected: { Invalid: 'Invalid', Valid: 'Valid' },
} as const satisfies { [T in PolicyConditionTypeName]: Record<string, string> };
export const PolicyCondition = conditionSchema(
  PolicyConditionType,
  'Ready: every selected node is in sync. Degraded: some nodes failed or drifted. ' +
    'Conflict: a policy of equal priority sets a different value on shared nodes. Rejected: the spec is invalid.',
);

const KernelFacts = z
  .strictObject({
    release: z.string().max(256).describe('Kernel release (uname -r).'),
    conntrackLoaded: z.boolean().describe('Whether the nf_conntrack module is loaded.'),
    hostNetworkNamespace: z.boolean().optional().describe("Whether the agent sees the node's own network namespace (absent when it cannot tell)."),
    notrackBackend: z.enum(['iptables-nft', 'iptables-legacy', 'nftables', 'none']).describe('Which firewall backend holds the NOTRACK rules.'),
    tableSource: z.enum(['procfs', 'conntrack-tool', 'none']).describe('How the table was read: /proc/net/nf_conntrack, the conntrack tool, or not at all.'),
  })
  .describe('Facts about the node kernel.');

/** Which network namespace a figure is about; the host's, or one named by its pod where known. */
const netnsIdentityFields = {
  host: z.boolean().describe("True for the host's own network namespace."),
  pid: Count.optional().describe('A process in it: `nsenter -t <pid> -n conntrack -L` lists its table.'),
  inode: Count.optional().describe(
    'Its nsfs inode, as `readlink /proc/<pid>/ns/net` and the kernel\'s "table full in netns N" name it; absent where not readable.',
  ),
  podUid: z.string().max(64).optional().describe('The pod whose containers are in it, from their kubelet cgroup.'),
  podNamespace: z.string().max(63).optional().describe("That pod's namespace, from the API (agent in a cluster)."),
  podName: z.string().max(253).optional().describe("That pod's name, from the API (agent in a cluster)."),
};

const NetnsIdentity = z.strictObject(netnsIdentityFields).describe('A network namespace of the node.');

const FullestNetns = z
  .strictObject({
    ...netnsIdentityFields,
    entries: Count.describe('Its own entry count.'),
    usagePercent: NonNegative.describe('entries / nf_conntrack_max x 100.'),
    usage: z.string().max(8).describe('usagePercent rounded, as text for the printer column, e.g. "100%".'),
  })
  .describe(
    "The network namespace with the most entries, the host's included: every namespace's count is checked against the one global max, so this one drops first. What the USAGE column shows.",
  );

const TableStatus = z
  .strictObject({
    count: Count.describe('Entries in the table now (nf_conntrack_count).'),
    max: Count.describe('Most entries the table may hold (nf_conntrack_max).'),
    buckets: Count.describe('Hash buckets (nf_conntrack_buckets).'),
    usagePercent: NonNegative.describe('count / max x 100.'),
    usage: z.string().max(8).describe('usagePercent rounded, as text for the printer column, e.g. "73%".'),
    chainLength: NonNegative.optional().describe('Average hash chain length: 2 x count / buckets (each entry hashes twice).'),
    bytes: Count.optional().describe('Memory the table takes when full: max x slab object size + buckets x 8.'),
    slabObjectSize: Count.optional().describe('Bytes per entry (nf_conntrack slab object size), when slabinfo is readable.'),
    fullest: FullestNetns.optional(),
    growthPerSecond: z
      .number()
      .optional()
      .describe(
        "Entries per second the forecast namespace (forecastNamespace) grows by, from the agent's watch (about one sample a second, a robust fit over 5-40 s); negative when it empties. Absent before the watch has a forecast.",
      ),
    secondsToFull: Count.optional().describe(
      'Seconds until the forecast namespace reaches nf_conntrack_max at that rate; absent when the forecast does not say it will (not growing, or a trend too short to trust that far).',
    ),
    forecastNamespace: NetnsIdentity.optional().describe(
      'The namespace growthPerSecond and secondsToFull are about: the one forecast to be full soonest, else the fullest.',
    ),
    dropsNow: Count.optional().describe(
      'Packets of new connections dropped for a full table since the previous pass, over every network namespace (insertion races not counted); absent on the first pass.',
    ),
  })
  .describe("Size and fill of the conntrack table: count, usage and chainLength are the host namespace's own; fullest and the forecast cover every namespace.");

export const Counters = z
  .strictObject({
    drop: Count.optional().describe('Packets of new connections dropped: the table was full, or an insertion race could not be resolved.'),
    earlyDrop: Count.optional().describe('Unreplied entries evicted to make room.'),
    insertFailed: Count.optional().describe('Entries that could not be inserted (an unresolved insertion race; drop rises with it).'),
    clashResolve: Count.optional().describe('Insertion races the kernel resolved without a drop (information).'),
    invalid: Count.optional().describe('Packets that could not be tracked (state INVALID).'),
    searchRestart: Count.optional().describe('Table lookups restarted because of a concurrent resize.'),
  })
  .describe('Kernel conntrack counters summed over CPUs, since boot; absent ones are not reported by this kernel.');

const TopSource = z
  .strictObject({
    address: z.string().max(45).describe('Source address of the original direction.'),
    count: Count.describe('Entries from this address.'),
  })
  .describe('A source address holding many entries.');

const Breakdown = z
  .strictObject({
    entries: Count.describe('Entries the breakdown was computed from.'),
    byL3: z.record(z.string().max(16), Count).describe('Entries per network protocol (ipv4, ipv6).'),
    byProtocol: z.record(z.string().max(16), Count).describe('Entries per transport protocol (tcp, udp, icmp, ...).'),
    tcpStates: z.record(z.string().max(16), Count).describe('TCP entries per state (ESTABLISHED, TIME_WAIT, ...).'),
    assured: Count.describe('Entries that saw traffic both ways and are safe from early drop.'),
    unreplied: Count.describe('Entries that never saw a reply (first to go under pressure).'),
    loopbackPercent: NonNegative.describe('Share of entries on loopback addresses (often better untracked).'),
    topSources: z.array(TopSource).max(10).describe('Source addresses with the most entries, most first (at most 10).'),
  })
  .describe('What fills the table.');

const AppliedPolicy = z
  .strictObject({
    name: z.string().max(1024).describe('Names of the policies in effect, comma-separated (one, unless several are merged).'),
    policies: z
      .array(
        z
          .strictObject({
            name: z.string().max(253).describe('Policy name.'),
            generation: Count.describe('metadata.generation of the policy that was applied.'),
          })
          .describe('One applied policy.'),
      )
      .max(32)
      .describe('Each policy in effect and the generation applied.'),
    mode: z.enum(['Enforce', 'DryRun']).describe('Enforce when any merged policy enforces, else DryRun.'),
  })
  .describe('The policy the node follows.');

const DriftEntry = z
  .strictObject({
    key: z.string().max(256).describe('What drifted: a sysctl name, "buckets", or a NOTRACK rule.'),
    desired: z.string().max(1024).describe('Value the policy asks for.'),
    actual: z.string().max(1024).describe('Value found on the node.'),
    since: Timestamp.describe('When the difference was first seen.'),
    likelyWriter: z.string().max(256).optional().describe('Who probably changed it (e.g. kube-proxy), when it can be told.'),
    fighting: z.boolean().optional().describe('True when the value keeps coming back after being corrected: another writer is fighting.'),
  })
  .describe('A key that moved away from the value the agent applied (Enforce).');

const PlannedChange = z
  .strictObject({
    key: z.string().max(256).describe('What would change: a sysctl name, "buckets" or "notrack".'),
    change: z.string().max(1024).describe('From what to what, e.g. "120 -> 30", or the NOTRACK rules to add and remove.'),
  })
  .describe('A change a DryRun policy asks for; not written.');

const Finding = z
  .strictObject({
    id: z.string().max(64).describe('Stable identifier of the finding, e.g. "table-pressure".'),
    severity: z.enum(['info', 'warning', 'critical']).describe('info, warning or critical.'),
    message: z.string().max(2048).describe('What was seen.'),
    action: z.string().max(2048).optional().describe('What to change, when there is something to change.'),
  })
  .describe('A recommendation from the numbers.');

const WithheldNatRule = z
  .strictObject({
    nat: z.enum(['DNAT', 'REDIRECT', 'SNAT', 'MASQUERADE']).describe('What the NAT rule does.'),
    table: z.string().max(256).describe('Its table: "<tool> <family> <name>", e.g. "iptables-nft ipv4 nat", "nftables ipv4 kube-proxy".'),
    rule: z.string().max(2048).describe('The rule, as "CHAIN: rule" in the syntax of the tool that lists it (its comment apart).'),
    comment: z.string().max(1024).optional().describe('Its comment, or the nearest on its path (kube-proxy names the Service there).'),
    owner: z.string().max(64).describe('Who wrote it, from its chain and table names: kube-proxy, CNI portmap, CNI, Docker or unknown.'),
    via: z
      .string()
      .max(2048)
      .optional()
      .describe('The rule on its path that says most about which packets reach it (a NodePort match, a verdict-map element).'),
    markedBy: z.string().max(2048).optional().describe('For a rule that rewrites marked packets: the rule that would have marked them.'),
    direction: z
      .enum(['Original', 'Reply'])
      .describe(
        'Original: the NOTRACK rule would untrack packets this rule rewrites. Reply: the replies of the flows it rewrites, which conntrack must translate back.',
      ),
  })
  .describe('A NAT rule a withheld NOTRACK rule overlaps.');

const WithheldNotrackRule = z
  .strictObject({
    rule: z.string().max(253).describe('The NOTRACK rule (spec.notrack[].name).'),
    reason: z
      .enum(['NatOverlap', 'NatRulesUnreadable'])
      .describe("NatOverlap: a NAT rule here rewrites packets it would untrack. NatRulesUnreadable: the node's NAT rules could not be read."),
    message: z.string().max(4096).describe('Why, in one sentence naming the first NAT rule.'),
    natRuleCount: Count.optional().describe('How many NAT rules it overlaps.'),
    natRules: z.array(WithheldNatRule).max(3).optional().describe('The first of them (at most 3).'),
  })
  .describe('A NOTRACK rule of the policy that is not applied: an untracked packet skips the nat table.');

const NetnsRow = z
  .strictObject({
    inode: Count.optional().describe(
      'The namespace\'s inode, as `readlink /proc/<pid>/ns/net`, lsns and the kernel\'s "table full in netns N" name it; absent where reading that link was refused (it needs ptrace rights over the process).',
    ),
    pid: Count.optional().describe('A process in the namespace: `nsenter -t <pid> -n` enters it.'),
    entries: Count.optional().describe('Its own entry count, checked against the global nf_conntrack_max.'),
    usagePercent: NonNegative.optional().describe('entries / nf_conntrack_max, in %.'),
    drop: Count.optional().describe('Packets of new connections dropped in it since it was created.'),
    dropsRising: Count.optional().describe('Drops since the previous pass not explained by insertion races: its table is full now.'),
    podUid: z.string().max(64).optional().describe('The pod whose containers are in it, from their kubelet cgroup.'),
    podNamespace: z.string().max(63).optional().describe("That pod's namespace, from the API (agent in a cluster, once it has listed the node's pods)."),
    podName: z.string().max(253).optional().describe("That pod's name, from the API (agent in a cluster, once it has listed the node's pods)."),
  })
  .describe('One network namespace on the node.');

export const NetnsSummary = z
  .strictObject({
    count: Count.describe('Network namespaces with a process on the node.'),
    entries: Count.optional().describe("Entries over all of them (each one's own count summed): the node-wide table."),
    slabActiveObjects: Count.optional().describe(
      'Active nf_conntrack slab objects: bounds the node-wide entries from above (freed entries stay until reused).',
    ),
    top: z.array(NetnsRow).max(5).describe('The namespaces with the most entries (at most 5).'),
    full: z.array(NetnsRow).max(5).describe("Namespaces other than the host's dropping new connections now (at most 5)."),
    pressure: z.array(NetnsRow).max(5).describe("Namespaces other than the host's above the warning threshold, fullest first (at most 5)."),
  })
  .describe("Every network namespace of the node: each has its own count against the global max, which the host's count does not show.");

const PressureResponseStatus = z
  .strictObject({
    active: z.boolean().describe('True from the time usage reached startPercent until it falls below stopPercent: the shorter timeouts are in force.'),
    since: Timestamp.optional().describe('When it last started or ended (absent before it ever did).'),
    startPercent: Count.describe("Usage (whole percent) of the agent's own network namespace at which it starts."),
    stopPercent: Count.describe('Usage below which it ends.'),
    enforced: z.boolean().describe('False when it is only planned (DryRun): nothing of it is written.'),
    timeouts: z
      .record(z.string().max(256), Count)
      .optional()
      .describe(
        "While active: the timeouts in place of the policy's own, by sysctl name (those lower than the policy's own value, or the node's own where the policy sets none).",
      ),
  })
  .describe("The policy's pressure response (spec.pressureResponse), judged on the usage of the network namespace the agent runs in and writes timeouts in.");

export const NodeStatus = z
  .strictObject({
    nodeName: z.string().max(253).describe('The node this status describes.'),
    lastProbeTime: Timestamp.describe('When the agent last read the kernel.'),
    kernel: KernelFacts,
    table: TableStatus.optional(),
    counters: Counters.optional(),
    breakdown: Breakdown.optional(),
    appliedPolicy: AppliedPolicy.optional(),
    driftCount: Count.describe('Number of drift entries (for the printer column).'),
    drift: z.array(DriftEntry).max(64).optional().describe('Keys that moved away from the values the agent applied (Enforce only: DryRun applies nothing).'),
    plan: z
      .array(PlannedChange)
      .max(64)
      .optional()
      .describe("What the fields DryRun policies win (with the agent's --dry-run, every field) would change here; nothing of it is written."),
    baseline: z
      .record(z.string().max(256), z.string().max(1024))
      .optional()
      .describe('Values before the agent first changed them (restored when no policy selects the node).'),
    findings: z.array(Finding).max(32).optional().describe('Recommendations from the numbers.'),
    namespaces: NetnsSummary.optional(),
    pressureResponse: PressureResponseStatus.optional(),
    notrackWithheld: z
      .array(WithheldNotrackRule)
      .max(64)
      .optional()
      .describe('NOTRACK rules of the policy not applied here (the NotrackWithheld condition); a rule applied earlier is removed.'),
    conditions: z
      .array(NodeCondition)
      .max(16)
      .describe(
        "Ready, Applied, Drifted, Pressure, TableFull, InsertionRace, FillingUp, PressureResponse, ClusterCidrsKnown and NotrackWithheld; observedGeneration is this object's own (always 1: it has no spec).",
      ),
  })
  .describe('What the agent sees on the node and what it did.');

export const PolicyStatus = z
  .strictObject({
    observedGeneration: Count.describe('metadata.generation this status was computed from.'),
    selectedNodes: Count.describe('Nodes the nodeSelector selects.'),
    inSyncNodes: Count.describe('Selected nodes that match the policy.'),
    driftedNodes: Count.describe('Selected nodes where a key differs from the policy.'),
    failedNodes: Count.describe('Selected nodes where applying the policy failed.'),
    conditions: z.array(PolicyCondition).max(8).describe('Ready, Degraded, Conflict and Rejected.'),
  })
  .describe('How the policy is doing across the nodes it selects.');

export type NodeStatusDoc = z.infer<typeof NodeStatus>;
export type PolicyStatusDoc = z.infer<typeof PolicyStatus>;
export type NodeConditionDoc = z.infer<typeof NodeCondition>;
export type PolicyConditionDoc = z.infer<typeof PolicyCondition>;
export type TableStatusDoc = z.infer<typeof TableStatus>;
export type NetnsIdentityDoc = z.infer<typeof NetnsIdentity>;
export type FullestNetnsDoc = z.infer<typeof FullestNetns>;
export type CountersDoc = z.infer<typeof Counters>;
export type FindingDoc = z.infer<typeof Finding>;
export type NetnsRowDoc = z.infer<typeof NetnsRow>;
export type NetnsSummaryDoc = z.infer<typeof NetnsSummary>;
export type WithheldNotrackRuleDoc = z.infer<typeof WithheldNotrackRule>;

// Findings about the network namespaces other than the host's: each has its
// own count checked against the global max, so a pod's namespace can drop new
// connections while the host's table looks empty. Pure. One finding per kind,
// naming the worst few namespaces, so a node with hundreds of pods gets a
// bounded list.
import { DEFAULT_PRESSURE } from '../api/v1alpha1/policy-rules.js';
import { applyRules, type FindingFacts, type FindingRule } from './findings.js';
import type { FindingDoc } from '../api/v1alpha1/status.js';
import type { NetnsCensus } from '../kernel/netns-census.js';
import { isOther, netnsEntries, netnsName, type NetnsEntry } from './netns-report.js';

/** What the namespace rules look at: every namespace but the host's, over every namespace of the census. */
export interface NetnsFindingFacts {
  others: NetnsEntry[];
  max: number | null;
  pressure: NonNullable<FindingFacts['pressure']>;
}

/** How many namespaces a finding names before "and N more". */
const NAMED = 3;

const label = (e: NetnsEntry): string => `netns ${netnsName(e)}${e.pod ? ` (pod ${e.pod.uid})` : ''}`;

function naming(rows: NetnsEntry[], detail: (e: NetnsEntry) => string): string {
  const named = rows.slice(0, NAMED).map((e) => `${label(e)} ${detail(e)}`);
  return `${named.join(', ')}${rows.length > NAMED ? ` and ${rows.length - NAMED} more` : ''}`;
}

/** Namespaces with usage in [from, below), fullest first. */
function usageBetween(others: NetnsEntry[], from: number, below: number): NetnsEntry[] {
  return others.filter((e) => e.usagePercent !== null && e.usagePercent >= from && e.usagePercent < below).sort((a, b) => b.usagePercent! - a.usagePercent!);
}

const usageText = (max: number | null) => (e: NetnsEntry) => `${e.entries} of ${max} (${e.usagePercent}%)`;

export const NETNS_FINDING_RULES: readonly FindingRule<NetnsFindingFacts>[] = [
  {
    id: 'netns-usage-critical',
    check: ({ others, max, pressure }) => {
      const critical = usageBetween(others, pressure.criticalPercent, Infinity);
      return critical.length
        ? {
            severity: 'critical',
            message: `${critical.length} network namespace(s) other than the host's are nearly full: ${naming(critical, usageText(max))}. Each drops its new connections at 100%, and the host's count does not show it.`,
            action:
              'Find what that pod tracks (conntrack -L inside its namespace: nsenter -t <pid> -n); NOTRACK or shorter timeouts there, or raise nf_conntrack_max.',
          }
        : undefined;
    },
  },
  {
    id: 'netns-usage-high',
    check: ({ others, max, pressure }) => {
      const high = usageBetween(others, pressure.warningPercent, pressure.criticalPercent);
      return high.length
        ? {
            severity: 'warning',
            message: `${high.length} network namespace(s) other than the host's are filling up: ${naming(high, usageText(max))}.`,
            action: 'Look inside that namespace (nsenter -t <pid> -n conntrack -L) for what holds the entries.',
          }
        : undefined;
    },
  },
  {
    id: 'netns-dropped-packets',
    check: ({ others }) => {
      const dropping = others.filter((e) => (e.drop ?? 0) > 0).sort((a, b) => b.drop! - a.drop!);
      return dropping.length
        ? {
            severity: 'warning',
            message: `${dropping.length} network namespace(s) other than the host's have dropped packets since they were created: ${naming(dropping, (e) => `drop ${e.drop}, insert_failed ${e.insertFailed ?? 0}`)} (a full table there, or insert races of one flow, e.g. DNS over UDP).`,
          }
        : undefined;
    },
  },
];

/** Over every namespace of the census, not only the top N a report lists. */
export function netnsFindings(census: NetnsCensus, max: number | null, pressure: FindingFacts['pressure'] = DEFAULT_PRESSURE): FindingDoc[] {
  return applyRules(NETNS_FINDING_RULES, { others: netnsEntries(census, max).filter(isOther), max, pressure });
}

// Turns a DesiredNotrackRule (which names FLOWS) into the packet matches a backend
// installs: both packet directions of every matched flow are untracked, as
// the field notes do (raw PREROUTING --dport 80 with raw OUTPUT --sport 80).
// Pure: shared by the iptables and nftables renderers and by describeRule.
import { PORTS_NEED_PROTOCOL } from '../../api/v1alpha1/policy-rules.js';
import { mergePortRanges } from '../../policy/intervals.js';
import type { DesiredNotrackRule, PortRange } from '../../policy/types.js';

export type Hook = 'prerouting' | 'output';
export type IpFamily = 'ipv4' | 'ipv6';

export interface PacketMatch {
  rule: string;
  hook: Hook;
  /** undefined: the match carries no address, so it applies to both families. */
  family?: IpFamily;
  inInterface?: string;
  outInterface?: string;
  sources: string[];
  destinations: string[];
  protocol?: 'tcp' | 'udp';
  sourcePorts: PortRange[];
  destinationPorts: PortRange[];
}

export function familyOf(cidr: string): IpFamily {
  return cidr.includes(':') ? 'ipv6' : 'ipv4';
}

/** Adds the host prefix the tools print for a bare address (10.0.0.1 -> 10.0.0.1/32). */
function withPrefix(cidr: string): string {
  if (cidr.includes('/')) return cidr;
  return `${cidr}/${familyOf(cidr) === 'ipv4' ? 32 : 128}`;
}

/** Sorted, overlaps merged: the form nft prints and a stable order for iptables. */
function canonicalPorts(ports: PortRange[]): PortRange[] {
  return mergePortRanges(ports, false);
}

interface AddressSplit {
  family?: IpFamily;
  sources: string[];
  destinations: string[];
}

// A rule with v4 and v6 CIDRs becomes one match set per family; a family for
// which the rule names sources (or destinations) but none of that family is skipped.
function splitByFamily(rule: DesiredNotrackRule): AddressSplit[] {
  const sources = (rule.sources ?? []).map(withPrefix);
  const destinations = (rule.destinations ?? []).map(withPrefix);
  if (sources.length === 0 && destinations.length === 0) return [{ sources, destinations }];
  const families: IpFamily[] = ['ipv4', 'ipv6'];
  return families
    .map((family) => ({
      family,
      sources: sources.filter((c) => familyOf(c) === family),
      destinations: destinations.filter((c) => familyOf(c) === family),
    }))
    .filter((s) => (sources.length === 0 || s.sources.length > 0) && (destinations.length === 0 || s.destinations.length > 0));
}

function flowMatches(rule: DesiredNotrackRule, split: AddressSplit, initiatedBy: 'peer' | 'host'): PacketMatch[] {
  const ports = canonicalPorts(rule.ports ?? []);
  const base = { rule: rule.name, family: split.family, protocol: rule.protocol };
  // Original packets enter (inbound flow) or leave (outbound flow) with the
  // flow's own addresses and the service port as destination port; replies
  // take the other hook with addresses and ports swapped.
  const original = {
    ...base,
    sources: split.sources,
    destinations: split.destinations,
    sourcePorts: [],
    destinationPorts: ports,
  };
  const reply = {
    ...base,
    sources: split.destinations,
    destinations: split.sources,
    sourcePorts: ports,
    destinationPorts: [],
  };
  const entering = { hook: 'prerouting' as const, inInterface: rule.interface };
  const leaving = { hook: 'output' as const, outInterface: rule.interface };
  return initiatedBy === 'peer'
    ? [
        { ...original, ...entering },
        { ...reply, ...leaving },
      ]
    : [
        { ...original, ...leaving },
        { ...reply, ...entering },
      ];
}

function matchKey(m: PacketMatch): string {
  return JSON.stringify([m.hook, m.family, m.inInterface, m.outInterface, m.sources, m.destinations, m.protocol, m.sourcePorts, m.destinationPorts]);
}

export function packetMatches(rule: DesiredNotrackRule): PacketMatch[] {
  if (PORTS_NEED_PROTOCOL.violatedBy(rule)) throw new Error(`notrack rule ${rule.name}: ${PORTS_NEED_PROTOCOL.message}`);
  const initiators: ('peer' | 'host')[] = rule.direction === 'inbound' ? ['peer'] : rule.direction === 'outbound' ? ['host'] : ['peer', 'host'];
  const all = splitByFamily(rule).flatMap((split) => initiators.flatMap((by) => flowMatches(rule, split, by)));
  // "both" without ports or addresses yields the same match twice (e.g. -i lo).
  const seen = new Set<string>();
  return all.filter((m) => {
    const key = matchKey(m);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

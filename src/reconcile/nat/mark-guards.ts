// Pure: NAT rules guarded by a packet mark, such as kube-proxy's
//   KUBE-POSTROUTING: -m mark ! --mark 0x4000/0x4000 -j RETURN
//   KUBE-POSTROUTING: -j MASQUERADE --random-fully
// (nftables mode: `meta mark & 0x4000 == 0 return`, then `masquerade`) and the
// portmap plugin's `CNI-HOSTPORT-MASQ: -m mark --mark 0x2000/0x2000 -j MASQUERADE`.
//
// Taken as it stands, that MASQUERADE matches every packet leaving the node:
// "may match" would then keep every NOTRACK rule out. But the mark is set by
// rules of the nat table itself (KUBE-MARK-MASQ, CNI-HOSTPORT-SETMARK), which
// an untracked packet never traverses. So the packets such a rule would have
// rewritten, had they been tracked, are exactly the packets the mark-setting
// rules would have marked: its reach is theirs (each setter's path, at the
// setter's hook, before any DNAT changed the addresses). The guarded rule's
// own path is left out, which only widens that reach.
//
// This relies on the mark bits being the nat table's own signal: where no
// nat rule sets them (another table or program sets the mark), the guard is
// unknown and the rule may match anything, as any unknown match. Where nat
// rules set them but none is reached for the guarded rule's family (kube-proxy's
// ip6 table with no IPv6 Service), no packet is marked and none reaches it.
import type { NatMatch } from '../../kernel/nat/nat-rules.js';
import type { MarkSetter, NatPath, NatWalk } from './nat-paths.js';

/** The mark bits a match requires to be set; null when it requires none (or cannot be read that way). */
function requiredBits(m: NatMatch): number | null {
  if (m.kind !== 'mark') return null;
  if (!m.negated && m.value !== 0) return m.value;
  // (mark & mask) != 0: at least one bit of the mask.
  if (m.negated && m.value === 0 && m.mask !== 0) return m.mask;
  return null;
}

const sets = (s: MarkSetter, bits: number) => s.bits === 'unknown' || (s.bits & bits) !== 0;

/** A NAT path reached through a mark setter: the setter's path, the guarded rule's rewrite. */
export interface GuardedPath extends NatPath {
  markedBy: MarkSetter;
}

/**
 * Each path as the model compares it: unguarded paths as they are, guarded
 * ones replaced by one path per reached setter of their bits. A setter whose
 * own path requires the same bits (kube-proxy's XOR that clears the bit after
 * use) cannot be what set them, and is not counted.
 */
export function resolveGuards(walk: NatWalk): Array<NatPath | GuardedPath> {
  const out: Array<NatPath | GuardedPath> = [];
  const markFree = (ms: NatMatch[]) => ms.filter((m) => m.kind !== 'mark');
  for (const p of walk.paths) {
    const bits = p.matches.map(requiredBits).reduce<number>((acc, b) => acc | (b ?? 0), 0);
    const natSignal = bits !== 0 && (walk.markBits === 'unknown' || (walk.markBits & bits) !== 0);
    if (!natSignal) {
      out.push({ ...p, matches: markFree(p.matches) });
      continue;
    }
    // The guarded rule's table family stays: an IPv4 setter marks no IPv6 packet.
    const family = p.matches.filter((m) => m.kind === 'family');
    for (const s of walk.setters) {
      if (!sets(s, bits) || s.matches.some((m) => ((requiredBits(m) ?? 0) & bits) !== 0)) continue;
      out.push({ ...p, hook: s.hook, matches: [...family, ...markFree(s.matches)], via: [...s.via, s.rule], markedBy: s });
    }
  }
  return out;
}

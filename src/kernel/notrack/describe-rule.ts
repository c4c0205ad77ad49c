// How `plan` shows a NOTRACK rule: in the syntax of the backend that will
// apply it, so what an SRE reads is what they find in iptables-save or nft list.
// Pure.
import type { DesiredNotrackRule } from '../../policy/types.js';
import type { NotrackBackendName } from './backend.js';
import { describeIptablesRule } from './render-iptables.js';
import { describeNftRule } from './render-nft.js';

const DESCRIBERS: Record<NotrackBackendName, (rule: DesiredNotrackRule) => string> = {
  'iptables-nft': describeIptablesRule,
  'iptables-legacy': describeIptablesRule,
  nftables: describeNftRule,
};

export function describeRule(backend: NotrackBackendName, rule: DesiredNotrackRule): string {
  return DESCRIBERS[backend](rule);
}

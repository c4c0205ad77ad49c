// The contract every NOTRACK backend (iptables-nft, iptables-legacy,
// nftables) meets. A backend only ever touches chains/tables it created and
// names as its own, and syncs them atomically.
import type { DesiredNotrackRule } from '../../policy/types.js';

/** What our NOTRACK chains should hold. */
export interface NotrackDesired {
  rules: DesiredNotrackRule[];
  /** Accept --ctstate UNTRACKED first in filter INPUT, in an owned chain. */
  acceptUntracked: boolean;
}

/** A NOTRACK backend's comparison of our chains with a NotrackDesired. */
export interface NotrackCheck {
  inSync: boolean;
  /** Rendered rule lines (canonical form) that should be there and are not. */
  missing: string[];
  /** Rendered rule lines in our chains that should not be there. */
  extra: string[];
  /** How many rules we own now (for the owned-rules metric). */
  ownedRules: number;
}

export type NotrackBackendName = 'iptables-nft' | 'iptables-legacy' | 'nftables';

/** An object with one of our names that we did not create: refused, never taken over. */
export class ForeignObjectError extends Error {}

export interface NotrackBackend {
  readonly name: NotrackBackendName;
  /**
   * Whether acceptUntracked can work here. iptables: our chain is jumped to first
   * from filter INPUT. nftables: an accept in our own base chain cannot override a
   * drop in the user's chains, so it cannot.
   */
  readonly canAcceptUntracked: boolean;
  /** Compare our chains with the desired set: reads only what holds them (iptables-save of raw and filter per family / one nft list of our table). */
  check(desired: NotrackDesired): Promise<NotrackCheck>;
  /** Make our chains match desired in one atomic transaction (iptables-restore --noflush / nft -f). */
  sync(desired: NotrackDesired): Promise<void>;
  /** Remove every chain/table and jump we own; leave everything else as it was. */
  remove(): Promise<void>;
}

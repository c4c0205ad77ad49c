// NOTRACK through iptables (nft or legacy flavour), per family (ipv4:
// iptables, ipv6: ip6tables) one save of each table our chains live in
// (`-t raw`, `-t filter`; never the whole ruleset: kube-proxy's nat table
// alone costs seconds of CPU to print on a node with thousands of Services)
// and at most one `iptables-restore --noflush`.
// A restore is atomic per table only (checked on iptables 1.8.9, both
// flavours: raw stays committed when filter fails). So on any failure every
// family touched so far is undone by another restore that puts our chains
// back to the lines saved before, built from a fresh save so that foreign
// rules written meanwhile are kept.
import type { CommandRunner } from '../command-runner.js';
import { ForeignObjectError, type NotrackBackend, type NotrackBackendName, type NotrackCheck, type NotrackDesired } from './backend.js';
import { buildRestore, diffIptables, ownedLines, ownedView, parseIptablesSave, type SavedRuleset } from './iptables-state.js';
import type { IpFamily } from './packet-matches.js';
import { OWNED_TABLES, OWNER_COMMENT, renderIptablesChains, type ChainLines } from './render-iptables.js';
import type { LegacyTables } from '../legacy-tables.js';
import { runChecked } from './run-command.js';
import { existingObjects, removeCreated, type CreatedObjects } from './created-objects.js';
import { errorText } from '../../errors.js';

type IptablesMode = 'nft' | 'legacy';

/**
 * iptables-nft: `created` records the nftables tables and base chains our
 * restores created, removed with our chains. iptables-legacy: `tables` says
 * which legacy tables exist, since saving a missing one would create it
 * (iptables-nft-save prints a missing table empty, creating nothing).
 */
export type IptablesFlavour = { mode: 'nft'; created?: CreatedObjects } | { mode: 'legacy'; tables: LegacyTables };

interface FamilyTools {
  family: IpFamily;
  save: string;
  restore: string;
}

function toolsFor(mode: IptablesMode): FamilyTools[] {
  return [
    { family: 'ipv4', save: `iptables-${mode}-save`, restore: `iptables-${mode}-restore` },
    { family: 'ipv6', save: `ip6tables-${mode}-save`, restore: `ip6tables-${mode}-restore` },
  ];
}

interface Touched {
  tools: FamilyTools;
  /** The family's ruleset before this run changed it. */
  before: SavedRuleset;
}

export class IptablesBackend implements NotrackBackend {
  readonly name: NotrackBackendName;
  readonly canAcceptUntracked = true;
  private readonly families: FamilyTools[];
  private readonly created: CreatedObjects | undefined;

  constructor(
    private readonly flavour: IptablesFlavour,
    private readonly runner: CommandRunner,
  ) {
    this.name = `iptables-${flavour.mode}`;
    this.families = toolsFor(flavour.mode);
    this.created = flavour.mode === 'nft' ? flavour.created : undefined;
  }

  async check(desired: NotrackDesired): Promise<NotrackCheck> {
    const result: NotrackCheck = { inSync: true, missing: [], extra: [], ownedRules: 0 };
    for (const tools of this.families) {
      const wanted = renderIptablesChains(desired, tools.family);
      const diff = diffIptables(await this.save(tools, wanted), wanted, tools.family);
      // concat, not push(...): a policy at the schema's limits renders 10^5 lines, past the call stack's argument limit.
      result.missing = result.missing.concat(diff.missing);
      result.extra = result.extra.concat(diff.extra);
      result.ownedRules += diff.ownedRules;
    }
    result.inSync = result.missing.length === 0 && result.extra.length === 0;
    return result;
  }

  sync(desired: NotrackDesired): Promise<void> {
    return this.applyAll((family) => renderIptablesChains(desired, family));
  }

  async remove(): Promise<void> {
    await this.applyAll(() => new Map());
    const created = (await this.created?.load()) ?? [];
    if (created.length === 0) return;
    await removeCreated(this.runner, created);
    await this.created?.save([]);
  }

  private async applyAll(wantedFor: (family: IpFamily) => ChainLines): Promise<void> {
    const touched: Touched[] = [];
    for (const tools of this.families) {
      try {
        const wanted = wantedFor(tools.family);
        const before = await this.save(tools, wanted);
        touched.push({ tools, before });
        await this.apply(tools, before, wanted);
      } catch (err) {
        await this.undo(touched, err);
        throw err;
      }
    }
  }

  /** One restore taking `current` to `wanted`; nothing at all when already there. */
  private async apply(tools: FamilyTools, current: SavedRuleset, wanted: ChainLines): Promise<void> {
    const diff = diffIptables(current, wanted, tools.family);
    if (diff.missing.length === 0 && diff.extra.length === 0) return;
    // --wait: kube-proxy and CNIs hold the xtables lock now and then; without it legacy restore fails at once.
    const before = this.created ? await existingObjects(this.runner, tools.family) : null;
    await runChecked(this.runner, tools.restore, ['--noflush', '--wait=5'], buildRestore(current, wanted));
    if (before) await this.record(tools.family, before);
  }

  /** Add what the restore just brought into existence to the record. */
  private async record(family: IpFamily, before: Set<string>): Promise<void> {
    const after = await existingObjects(this.runner, family);
    const added = [...(after ?? [])].filter((o) => !before.has(o));
    if (added.length > 0 && this.created) await this.created.save([...(await this.created.load()), ...added]);
  }

  // Puts our chains of every family touched so far (the failing one included:
  // restore commits table by table, so raw may have gone through when filter
  // failed) back to their saved lines, working from a fresh save.
  private async undo(touched: Touched[], cause: unknown): Promise<void> {
    // Every family is tried, whatever happened to the one before; the message names each failure.
    const failures: Array<{ family: string; err: unknown }> = [];
    for (const { tools, before } of touched) {
      try {
        await this.apply(tools, await this.save(tools), ownedLines(before));
      } catch (err) {
        failures.push({ family: tools.family, err });
      }
    }
    if (failures.length === 0) return;
    throw new AggregateError(
      [cause, ...failures.map((f) => f.err)],
      `${this.name}: sync failed (${errorText(cause)}) and undoing it failed too: ${failures.map((f) => `${f.family}: ${errorText(f.err)}`).join('; ')}`,
    );
  }

  /**
   * The family's tables that hold our chains, as far as they are ours; a
   * chain with one of our names but not our marker is refused when `wanted`
   * needs that name, and left out of the view (so never touched) otherwise.
   */
  private async save(tools: FamilyTools, wanted: ChainLines = new Map()): Promise<SavedRuleset> {
    const { saved, foreign } = ownedView(await this.saveOwnedTables(tools));
    const taken = foreign.filter((c) => wanted.has(c.name));
    if (taken.length > 0) {
      const names = taken.map((c) => `${c.table} chain ${c.name}`).join(', ');
      throw new ForeignObjectError(
        `${tools.save}: ${names} already exist${taken.length === 1 ? 's' : ''} and ${taken.length === 1 ? 'is' : 'are'} not ours (no "-m comment --comment ${OWNER_COMMENT}" marker rule): refusing to take ${taken.length === 1 ? 'it' : 'them'} over; rename or remove ${taken.length === 1 ? 'it' : 'them'}`,
      );
    }
    return saved;
  }

  /** One save per table our chains live in, merged; a legacy table that does not exist is left out, as a whole save leaves it. */
  private async saveOwnedTables(tools: FamilyTools): Promise<SavedRuleset> {
    const present = this.flavour.mode === 'legacy' ? await this.flavour.tables(tools.family) : null;
    const dumps: string[] = [];
    for (const table of OWNED_TABLES) {
      if (present && !present.has(table)) continue;
      dumps.push((await runChecked(this.runner, tools.save, ['-t', table])).stdout);
    }
    return parseIptablesSave(dumps.join('\n'));
  }
}

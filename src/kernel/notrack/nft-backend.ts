// NOTRACK through our own nftables table (render-nft.ts): check is one
// `nft list table`, sync and remove are one `nft -f -` transaction each.
import type { CommandRunner } from '../command-runner.js';
import { ForeignObjectError, type NotrackBackend, type NotrackCheck, type NotrackDesired } from './backend.js';
import { linesMissingFrom } from './line-diff.js';
import { canonicalNftLine } from './nft-canonical.js';
import { NFT_OWNER_COMMENT, NFT_TABLE, nftDeleteScript, nftSyncScript, nftTableIsOurs, parseNftTable, renderNftLines } from './render-nft.js';
import { CommandFailedError, runChecked } from './run-command.js';

export class NftablesBackend implements NotrackBackend {
  readonly name = 'nftables' as const;
  readonly canAcceptUntracked = false;

  constructor(private readonly runner: CommandRunner) {}

  async check(desired: NotrackDesired): Promise<NotrackCheck> {
    const wanted = renderNftLines(desired).map(canonicalNftLine);
    const table = await this.listTable();
    if (table === 'foreign' && wanted.length > 0) {
      throw new ForeignObjectError(
        `nftables table ${NFT_TABLE} already exists and is not ours (no ${NFT_OWNER_COMMENT}): refusing to take it over; rename or remove it`,
      );
    }
    const actual = typeof table === 'string' ? [] : table.map(canonicalNftLine);
    const missing = linesMissingFrom(actual, wanted);
    const extra = linesMissingFrom(wanted, actual);
    const ownedRules = actual.filter((l) => !/: type \S+ hook /.test(l)).length;
    return { inSync: missing.length === 0 && extra.length === 0, missing, extra, ownedRules };
  }

  async sync(desired: NotrackDesired): Promise<void> {
    const state = await this.check(desired);
    if (!state.inSync) await runChecked(this.runner, 'nft', ['-f', '-'], nftSyncScript(desired));
  }

  /** Deletes our table; a table of that name that is not ours is left as it is. */
  async remove(): Promise<void> {
    const table = await this.listTable();
    if (typeof table !== 'string') await runChecked(this.runner, 'nft', ['-f', '-'], nftDeleteScript());
  }

  /** Our table's lines, 'absent', or 'foreign' when a table of that name is not ours. */
  private async listTable(): Promise<string[] | 'absent' | 'foreign'> {
    const args = ['list', 'table', ...NFT_TABLE.split(' ')];
    const result = await this.runner.run('nft', args);
    if (result.code === 0) return nftTableIsOurs(result.stdout) ? parseNftTable(result.stdout) : 'foreign';
    if (result.stderr.includes('No such file or directory')) return 'absent';
    throw new CommandFailedError(['nft', ...args].join(' '), result.code, result.stderr);
  }
}

// NOTRACK through our own nftables table (render-nft.ts): check is one
// `nft list table`, sync and remove are one `nft -f -` transaction each.
import type { CommandRunner } from '../command-runner.js';
import type { NotrackBackend, NotrackCheck, NotrackDesired } from './backend.js';
import { linesMissingFrom } from './line-diff.js';
import { NFT_TABLE, nftDeleteScript, nftSyncScript, parseNftTable, renderNftLines } from './render-nft.js';
import { CommandFailedError, runChecked } from './run-command.js';

export class NftablesBackend implements NotrackBackend {
  readonly name = 'nftables' as const;
  readonly canAcceptUntracked = false;

  constructor(private readonly runner: CommandRunner) {}

  async check(desired: NotrackDesired): Promise<NotrackCheck> {
    const actual = await this.listOwnTable();
    const wanted = renderNftLines(desired);
    const missing = linesMissingFrom(actual, wanted);
    const extra = linesMissingFrom(wanted, actual);
    const ownedRules = actual.filter((l) => !/: type \S+ hook /.test(l)).length;
    return { inSync: missing.length === 0 && extra.length === 0, missing, extra, ownedRules };
  }

  async sync(desired: NotrackDesired): Promise<void> {
    const state = await this.check(desired);
    if (!state.inSync) await runChecked(this.runner, 'nft', ['-f', '-'], nftSyncScript(desired));
  }

  async remove(): Promise<void> {
    await runChecked(this.runner, 'nft', ['-f', '-'], nftDeleteScript());
  }

  /** Our table's lines; none when the table does not exist. */
  private async listOwnTable(): Promise<string[]> {
    const args = ['list', 'table', ...NFT_TABLE.split(' ')];
    const result = await this.runner.run('nft', args);
    if (result.code === 0) return parseNftTable(result.stdout);
    if (result.stderr.includes('No such file or directory')) return [];
    throw new CommandFailedError(['nft', ...args].join(' '), result.code, result.stderr);
  }
}

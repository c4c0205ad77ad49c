// iptables-nft creates the nftables tables and base chains a restore names
// when they are missing (ip6 raw, ip filter INPUT, raw OUTPUT, ...), and they
// stay after our chains are gone: restore would not give back the ruleset it
// found. So what our restores caused to exist is recorded (in the state dir:
// a later `restore` is another process) and removed with our chains when
// nothing else has come to use it. Seen with nft, which iptables-nft-save
// cannot replace (it prints every built-in chain of a table, present or not);
// without nft nothing is recorded and such leftovers stay.
import type { CommandRunner } from '../command-runner.js';
import type { IpFamily } from './packet-matches.js';

/** Where the record is kept: "ip raw", "ip raw OUTPUT", "ip6 filter INPUT", ... */
export interface CreatedObjects {
  load(): Promise<string[]>;
  save(objects: string[]): Promise<void>;
}

/** Every table and base chain our iptables restores name. */
const NAMED: Readonly<Record<string, readonly string[]>> = { raw: ['PREROUTING', 'OUTPUT'], filter: ['INPUT'] };
export const CREATED_OBJECT = /^(ip|ip6) (raw|filter)( (PREROUTING|OUTPUT|INPUT))?$/;

const nftFamily = (family: IpFamily) => (family === 'ipv4' ? 'ip' : 'ip6');

/** A chain block's lines that are rules (not its `type ... hook` header). */
function ruleLines(listing: string): string[] {
  return listing
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && l !== '}' && !l.startsWith('table ') && !l.startsWith('chain ') && !l.startsWith('type ') && !l.startsWith('#'));
}

/** Which of the objects our restores name exist now; null when nft cannot tell (not installed, refused). */
export async function existingObjects(runner: CommandRunner, family: IpFamily): Promise<Set<string> | null> {
  const fam = nftFamily(family);
  const found = new Set<string>();
  try {
    for (const [table, chains] of Object.entries(NAMED)) {
      const r = await runner.run('nft', ['list', 'table', fam, table]);
      if (r.code !== 0) {
        if (r.stderr.includes('No such file or directory')) continue;
        return null;
      }
      found.add(`${fam} ${table}`);
      for (const chain of chains) if (new RegExp(`^\\s*chain ${chain} \\{$`, 'm').test(r.stdout)) found.add(`${fam} ${table} ${chain}`);
    }
  } catch {
    return null; // nft is not installed
  }
  return found;
}

/**
 * Delete what we created and nothing has come to use: a base chain with no
 * rule, then a table with no chain left. Returns nothing: what is in use stays
 * (and is no longer only ours, so the record is cleared either way).
 */
export async function removeCreated(runner: CommandRunner, objects: readonly string[]): Promise<void> {
  const chains = objects.filter((o) => o.split(' ').length === 3);
  const tables = objects.filter((o) => o.split(' ').length === 2);
  for (const chain of chains) {
    const [fam = '', table = '', name = ''] = chain.split(' ');
    const listing = await runner.run('nft', ['list', 'chain', fam, table, name]);
    if (listing.code === 0 && ruleLines(listing.stdout).length === 0) await runner.run('nft', ['delete', 'chain', fam, table, name]);
  }
  for (const t of tables) {
    const [fam = '', table = ''] = t.split(' ');
    const listing = await runner.run('nft', ['list', 'table', fam, table]);
    if (listing.code === 0 && !/^\s*chain /m.test(listing.stdout)) await runner.run('nft', ['delete', 'table', fam, table]);
  }
}

// Which iptables-legacy tables exist in our network namespace: the list the
// legacy tools read themselves (/proc/net/ip_tables_names, ip6_tables_names).
// Naming a legacy table that is not there (`iptables-legacy-save -t raw`)
// creates it: the kernel instantiates it from the loaded module, hooks and
// all (seen on 6.18, iptables 1.8.9). So whoever only reads looks here first.
import type { HostPaths } from './host-paths.js';
import type { KernelFiles } from './kernel-files.js';
import type { IpFamily } from './notrack/packet-matches.js';
import { errnoCode } from '../errors.js';

/** Which legacy tables a family has now; empty when there are none. */
export type LegacyTables = (family: IpFamily) => Promise<Set<string>>;

/** What reading the list takes: a read of /proc/net. */
export interface ProcNetReader {
  files: Pick<KernelFiles, 'read'>;
  paths: HostPaths;
}

export function legacyTablesFile(family: IpFamily): string {
  return family === 'ipv4' ? 'ip_tables_names' : 'ip6_tables_names';
}

/**
 * The family's legacy tables. No file: the legacy module is not loaded, so
 * there are none. Any other error (EACCES) is thrown: what exists is unknown.
 */
export async function readLegacyTables(host: ProcNetReader, family: IpFamily): Promise<Set<string>> {
  try {
    const names = await host.files.read(host.paths.proc('net', legacyTablesFile(family)));
    return new Set(names.split('\n').filter((n) => n !== ''));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return new Set();
    throw err;
  }
}

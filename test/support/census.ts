// A network-namespace census as src/kernel/netns-census.ts returns it, for
// the pure tests that judge one: each test gives only the fields it is about.
import type { NetnsCensus, NetnsCensusRow } from '../../src/kernel/netns-census.js';

/** A namespace that is not the host's, its inode and pid the key unless given, with no counters and outside any pod. */
export function censusRow(over: Partial<NetnsCensusRow> & Pick<NetnsCensusRow, 'key'>): NetnsCensusRow {
  return { inode: over.key, pid: over.key, host: false, ours: false, entries: 0, counters: null, podUid: null, ...over };
}

/** A census of `rows` with the host's key 1, every process and inode read, and no slab. */
export function censusOf(rows: NetnsCensusRow[], over: Partial<Omit<NetnsCensus, 'namespaces'>> = {}): NetnsCensus {
  return {
    namespaces: rows,
    hostKey: 1,
    processes: rows.length,
    unreadableProcesses: 0,
    vanishedProcesses: 0,
    inodesUnread: 0,
    slab: null,
    unreadable: [],
    ...over,
  };
}

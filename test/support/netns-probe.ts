// Run INSIDE a test namespace (`ip netns exec <ns> node --import tsx netns-probe.ts [--no-file]`):
// reads the host snapshot and the table through the project's own readers and
// prints one JSON object { snapshot, source, summary, parsed, malformed }.
// --no-file hides /proc/self/net/nf_conntrack so the conntrack -L path is used.
import { Readable } from 'node:stream';
import { realHost } from '../../src/kernel/host.js';
import type { HostPaths } from '../../src/kernel/host-paths.js';
import type { KernelFiles } from '../../src/kernel/kernel-files.js';
import { readHostSnapshot } from '../../src/kernel/snapshot.js';
import { openTableStream } from '../../src/kernel/table-stream.js';
import { summarizeBatches } from '../../src/kernel/table-summary.js';
import { errno } from './fake-kernel.js';

/** KernelFiles on which the table file is absent (in both layouts), as on kernels without /proc/net/nf_conntrack. */
export function withoutTableFile(files: KernelFiles, paths: HostPaths): KernelFiles {
  const tablePaths = new Set(paths.tableFiles());
  return {
    read: (p) => files.read(p),
    write: (p, d) => files.write(p, d),
    list: (d) => files.list(d),
    readLink: (p) => files.readLink(p),
    inode: (p) => files.inode(p),
    linkCount: (p) => files.linkCount(p),
    canWrite: (p) => files.canWrite(p),
    mode: (p) => files.mode(p),
    stream: (p) => {
      if (!tablePaths.has(p)) return files.stream(p);
      const r = new Readable({ read() {} });
      process.nextTick(() => r.destroy(errno('ENOENT', 'open', p)));
      return r;
    },
  };
}

async function main(): Promise<void> {
  const real = realHost({ procRoot: '/proc', sysRoot: '/sys' }, process.geteuid?.() === 0);
  const host = process.argv.includes('--no-file') ? { ...real, files: withoutTableFile(real.files, real.paths) } : real;
  const snapshot = await readHostSnapshot(host);
  const table = await openTableStream(host);
  if (table.source === null) throw new Error(`table unreadable: ${JSON.stringify(table.unreadable)}`);
  const summary = await summarizeBatches(table.batches, { sysctls: snapshot.sysctls });
  process.stdout.write(`${JSON.stringify({ snapshot, source: table.source, summary, parsed: table.parser.parsed, malformed: table.parser.malformed })}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}

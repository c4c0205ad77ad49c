// The conntrack table as an async stream of parsed entries, never held whole
// in memory: /proc/self/net/nf_conntrack where the kernel has it and we may
// read it (root), otherwise `conntrack -L -o extended` (netlink, CAP_NET_ADMIN)
// as a child process. Both print the same line format.
import type { Readable } from 'node:stream';
import { EntryParser, MAX_LINE_LENGTH, type ConntrackEntry } from './entry-parser.js';
import type { Host } from './host.js';
import { netlinkAnswersForTree, notRunForTree } from './netlink-scope.js';
import { isPermissionMessage } from './stats.js';
import { unreadable, type Unreadable } from './unreadable.js';

const CONNTRACK_LIST_ARGS = ['-L', '-o', 'extended'];

export interface TableStream {
  source: 'file' | 'conntrack -L';
  /** The file path or the command line read. */
  origin: string;
  /**
   * The entries in batches (one per chunk read), to be iterated once. Batches
   * keep the per-entry cost low: an await per entry costs more than parsing
   * it. Lines that are not entries are skipped and counted in parser.malformed.
   * Throws if the dump fails midway.
   */
  batches: AsyncIterable<ConntrackEntry[]>;
  /** parsed / malformed line counts, final once batches is drained. */
  parser: EntryParser;
  /** What was tried first and could not be read (e.g. the file, EACCES). */
  unreadable: Unreadable[];
}

export interface TableUnavailable {
  source: null;
  unreadable: Unreadable[];
}

/** Parse a stream of byte chunks, one batch per chunk: only the current chunk's text is held (and what the consumer keeps of its entries). */
async function* parseChunks(first: IteratorResult<unknown>, rest: AsyncIterator<unknown>, parser: EntryParser): AsyncGenerator<ConntrackEntry[]> {
  let carry = '';
  let skipping = false; // inside a line past MAX_LINE_LENGTH: dropped up to its newline
  for (let r = first; !r.done; r = await rest.next()) {
    // The table is ASCII: latin1 decodes faster than utf8 and the same here.
    let chunk = Buffer.isBuffer(r.value) ? r.value.toString('latin1') : String(r.value);
    if (skipping) {
      const nl = chunk.indexOf('\n');
      if (nl < 0) continue;
      chunk = chunk.slice(nl + 1);
      skipping = false;
    }
    const text = carry + chunk;
    const batch: ConntrackEntry[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      if (nl > start) pushParsed(batch, parser, text, start, nl);
      start = nl + 1;
    }
    carry = text.slice(start);
    if (carry.length > MAX_LINE_LENGTH) {
      parser.tooLong();
      carry = '';
      skipping = true;
    }
    yield batch;
  }
  if (carry !== '') {
    const batch: ConntrackEntry[] = [];
    pushParsed(batch, parser, carry, 0, carry.length);
    yield batch;
  }
}

function pushParsed(batch: ConntrackEntry[], parser: EntryParser, text: string, start: number, end: number): void {
  const entry = parser.parse(text, start, end);
  if (entry !== null) batch.push(entry);
}

/** Open the first table file present (either layout); undefined (with the reasons pushed) when none can be read. */
async function openFile(host: Pick<Host, 'files' | 'paths' | 'isRoot'>, problems: Unreadable[]): Promise<TableStream | undefined> {
  for (const path of host.paths.tableFiles()) {
    const missing: Unreadable[] = [];
    const stream = await openOneFile(host, path, missing);
    if (stream) return stream;
    // The first layout's reason (the real location) always; the other's only when it adds an error (not a mere absence).
    problems.push(...missing.filter((m) => (problems.length === 0 || m.code !== 'ENOENT') && !problems.some((p) => p.code === m.code)));
  }
  return undefined;
}

async function openOneFile(host: Pick<Host, 'files' | 'isRoot'>, path: string, problems: Unreadable[]): Promise<TableStream | undefined> {
  const readable: Readable = host.files.stream(path);
  const chunks = readable[Symbol.asyncIterator]();
  let first: IteratorResult<unknown>;
  try {
    // open(2) errors (ENOENT, EACCES) surface on the first read: probe it before choosing this source.
    first = await chunks.next();
  } catch (err) {
    readable.destroy();
    problems.push(unreadable('conntrack table file', path, err, host.isRoot));
    return undefined;
  }
  const parser = new EntryParser();
  return { source: 'file', origin: path, batches: parseChunks(first, chunks, parser), parser, unreadable: problems };
}

/** Start `conntrack -L -o extended`; undefined (with the reason pushed) when it cannot run or is refused. */
async function openConntrack(host: Pick<Host, 'runner' | 'isRoot'>, problems: Unreadable[]): Promise<TableStream | undefined> {
  const command = `conntrack ${CONNTRACK_LIST_ARGS.join(' ')}`;
  const { chunks, done } = host.runner.streamChunks('conntrack', CONNTRACK_LIST_ARGS);
  const it = chunks[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) {
    // No output: an empty table, or the command failed (missing binary, EPERM without CAP_NET_ADMIN).
    try {
      const { code, stderr } = await done;
      if (code !== 0) {
        const denied = isPermissionMessage(stderr);
        problems.push({ what: 'conntrack table', path: command, code: denied ? 'EPERM' : `exit ${code}`, needsRoot: denied && !host.isRoot });
        return undefined;
      }
    } catch (err) {
      problems.push(unreadable('conntrack table', command, err, host.isRoot));
      return undefined;
    }
  }
  const parser = new EntryParser();
  const rest = (async function* () {
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
    const { code, stderr } = await done;
    if (code !== 0) throw new Error(`${command} exited ${code} midway: ${stderr.trim()}`);
  })();
  return { source: 'conntrack -L', origin: command, batches: parseChunks(first, rest, parser), parser, unreadable: problems };
}

/**
 * Open the table: the file where present and readable, else conntrack -L.
 * Resolves to { source: null, unreadable } when neither can be read; never rejects for that.
 */
export async function openTableStream(host: Pick<Host, 'files' | 'paths' | 'runner' | 'isRoot'>): Promise<TableStream | TableUnavailable> {
  const problems: Unreadable[] = [];
  const file = await openFile(host, problems);
  if (file) return { ...file, unreadable: problems };
  if (!(await netlinkAnswersForTree(host))) {
    problems.push(notRunForTree('conntrack table', `conntrack ${CONNTRACK_LIST_ARGS.join(' ')}`));
    return { source: null, unreadable: problems };
  }
  return (await openConntrack(host, problems)) ?? { source: null, unreadable: problems };
}

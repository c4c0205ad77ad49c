// Reading a file a user (or an accident) may have put anything at: a FIFO
// opened without O_NONBLOCK blocks a thread-pool thread until a writer shows
// up (four of them and no file I/O runs at all), a device or a huge file is
// read forever. Open non-blocking, judge the type with fstat on the opened
// descriptor (no race with a rename), and read at most a cap.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export interface RegularFile {
  text: string;
  /** Identity of the version read: inode, size, modification and change times. */
  fingerprint: string;
}

/** A file that is there but must not be read: an error whose message names the path and the reason. */
export class RefusedFile extends Error {
  readonly code = 'EREFUSED';
}

function kindOf(st: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** The whole text of a regular file of at most maxBytes; ENOENT and other errno errors pass through. */
export async function readRegularFile(path: string, maxBytes: number): Promise<RegularFile> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new RefusedFile(`${path}: is ${kindOf(st)}, not a regular file; refused`);
    if (st.size > maxBytes) throw new RefusedFile(`${path}: ${st.size} bytes, more than the ${maxBytes} allowed; refused`);
    // Room for one byte more than fstat saw: a file that grew meanwhile is refused (read it again later).
    const buf = Buffer.alloc(st.size + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled > st.size) throw new RefusedFile(`${path}: grew while it was read; refused`);
    }
    return { text: buf.subarray(0, filled).toString('utf8'), fingerprint: `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` };
  } finally {
    await handle.close();
  }
}

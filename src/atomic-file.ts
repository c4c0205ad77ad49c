// Replace a file so that a reader (or a crash) sees either the old content or
// the new one, never a part: write a temp file beside it, fsync, rename over,
// fsync the directory so the rename itself survives a power cut.
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** The few file operations used, so a test can make one of them fail. */
export type AtomicFs = Pick<typeof fsp, 'open' | 'rename' | 'rm'>;

export async function writeFileAtomic(path: string, data: string, fs: AtomicFs = fsp): Promise<void> {
  const dir = dirname(path);
  // eslint-disable-next-line no-restricted-syntax -- the time only makes the name unique: no clock to inject
  const temp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const file = await fs.open(temp, 'wx', 0o600);
    try {
      await file.writeFile(data, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await fs.rename(temp, path);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

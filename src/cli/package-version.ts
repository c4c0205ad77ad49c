// The release, from package.json: the nearest one above this module. src/cli/,
// dist/cli/ and the image's bundle chunks (dist/bundle/chunks/) sit at
// different depths below it; the image ships it next to dist/.
import { readFileSync } from 'node:fs';
import { errnoCode } from '../errors.js';

export function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); ;) {
    try {
      return (JSON.parse(readFileSync(new URL('package.json', dir), 'utf8')) as { version: string }).version;
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') throw err;
    }
    const parent = new URL('..', dir);
    if (parent.href === dir.href) throw new Error(`no package.json above ${import.meta.url}`);
    dir = parent;
  }
}

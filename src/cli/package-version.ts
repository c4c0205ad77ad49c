// The release, from package.json: two levels up from src/cli/, dist/cli/ and
// dist/bundle/ alike (it ships next to dist/ in the image).
import { readFileSync } from 'node:fs';

export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

// The record of nftables tables and base chains our iptables-nft restores
// created (src/kernel/notrack/created-objects.ts), kept in the state dir and
// validated like every state file before it names anything to delete.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { errnoCode } from '../errors.js';
import { CREATED_OBJECT, type CreatedObjects } from '../kernel/notrack/created-objects.js';
import { writeFileAtomic } from '../atomic-file.js';
import { readRegularFile } from '../regular-file.js';

const Record = z.object({ objects: z.array(z.string().regex(CREATED_OBJECT)).max(16) }).strict();

export class CreatedObjectsFile implements CreatedObjects {
  readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'notrack-created.json');
  }

  async load(): Promise<string[]> {
    let text: string;
    try {
      text = (await readRegularFile(this.path, 64 * 1024)).text;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return [];
      throw err;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    const parsed = Record.safeParse(data);
    if (!parsed.success) throw new Error(`${this.path}: invalid (a list of "ip|ip6 raw|filter [CHAIN]" is expected); fix or remove it`);
    return parsed.data.objects;
  }

  async save(objects: string[]): Promise<void> {
    if (objects.length === 0) return rm(this.path, { force: true });
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify({ objects: [...new Set(objects)].sort() })}\n`);
  }
}

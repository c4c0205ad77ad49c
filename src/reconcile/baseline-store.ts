// The node's values before our first change of each key, kept in the state
// dir so that `restore` still knows them after a restart. A kept value is
// never overwritten: the baseline is what the node had before us.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, type AtomicFs } from './atomic-file.js';
import { emptyBaseline, isValueAction, NOTRACK_KEY, type Action, type Baseline, type NotrackTarget } from './planner.js';

export interface BaselineStore {
  load(): Promise<Baseline>;
  /** Before `actions` are written: keep each key's `from` unless one is kept already; mark NOTRACK chains as ours before a sync. */
  recordBefore(actions: readonly Action[]): Promise<void>;
  /** After a successful NOTRACK sync: the set our chains now hold (what a later failed sync rolls back to). */
  recordNotrackApplied(target: NotrackTarget): Promise<void>;
  /** Forget the given keys (NOTRACK_KEY forgets our chains), or everything. */
  clear(keys?: readonly string[]): Promise<void>;
}

function withRecorded(baseline: Baseline, actions: readonly Action[]): Baseline {
  const next: Baseline = { ...baseline, values: { ...baseline.values } };
  for (const action of actions) {
    if (isValueAction(action)) next.values[action.key] ??= action.from;
    else if (action.kind === 'notrack-sync') next.notrackOwned = true;
  }
  return next;
}

function without(baseline: Baseline, keys: readonly string[]): Baseline {
  const next: Baseline = { ...baseline, values: { ...baseline.values } };
  for (const key of keys) {
    if (key === NOTRACK_KEY) {
      next.notrackOwned = false;
      delete next.notrackApplied;
    } else {
      delete next.values[key];
    }
  }
  return next;
}

/** The shared rules; subclasses only say where the baseline lives. */
abstract class StoredBaseline implements BaselineStore {
  abstract load(): Promise<Baseline>;
  protected abstract save(baseline: Baseline): Promise<void>;

  async recordBefore(actions: readonly Action[]): Promise<void> {
    const before = await this.load();
    const after = withRecorded(before, actions);
    if (JSON.stringify(after) !== JSON.stringify(before)) await this.save(after);
  }

  async recordNotrackApplied(target: NotrackTarget): Promise<void> {
    await this.save({ ...(await this.load()), notrackOwned: true, notrackApplied: target });
  }

  async clear(keys?: readonly string[]): Promise<void> {
    await this.save(keys ? without(await this.load(), keys) : emptyBaseline());
  }
}

export class MemoryBaselineStore extends StoredBaseline {
  private baseline = emptyBaseline();

  async load(): Promise<Baseline> {
    return structuredClone(this.baseline);
  }

  protected async save(baseline: Baseline): Promise<void> {
    this.baseline = structuredClone(baseline);
  }
}

const FILE_NAME = 'baseline.json';

function parseBaseline(text: string, path: string): Baseline {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); fix or remove it by hand, it holds the values to restore`);
  }
  const b = data as Partial<Baseline> | null;
  const values = b?.values;
  if (typeof values !== 'object' || values === null || Object.values(values).some((v) => typeof v !== 'number')) {
    throw new Error(`${path}: "values" must be an object of numbers`);
  }
  return { values, notrackOwned: b?.notrackOwned === true, ...(b?.notrackApplied ? { notrackApplied: b.notrackApplied } : {}) };
}

/** baseline.json in the state dir (e.g. /var/lib/conntrack-operator), replaced atomically. */
export class FileBaselineStore extends StoredBaseline {
  readonly path: string;

  constructor(
    private readonly dir: string,
    private readonly fs?: AtomicFs,
  ) {
    super();
    this.path = join(dir, FILE_NAME);
  }

  async load(): Promise<Baseline> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyBaseline();
      throw err;
    }
    return parseBaseline(text, this.path);
  }

  protected async save(baseline: Baseline): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, ...baseline }, null, 2)}\n`, this.fs);
  }
}

// The node's values before our first change of each key, kept in the state
// dir so that `restore` still knows them after a restart. A kept value is
// never overwritten: the baseline is what the node had before us.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { errnoCode } from '../errors.js';
import { parseCidr } from '../policy/cidr.js';
import { issueErrors } from '../policy/issue-messages.js';
import { NotrackRule } from '../api/v1alpha1/policy.js';
import { writeFileAtomic, type AtomicFs } from '../atomic-file.js';
import { BUCKETS_KEY, emptyBaseline, isValueAction, NOTRACK_KEY, type Action, type Baseline } from './planner.js';
import type { NotrackDesired } from '../kernel/notrack/backend.js';
import { readRegularFile } from '../regular-file.js';

export interface BaselineStore {
  load(): Promise<Baseline>;
  /** Before `actions` are written: keep each key's `from` unless one is kept already; mark NOTRACK chains as ours before a sync. */
  recordBefore(actions: readonly Action[]): Promise<void>;
  /** After a successful NOTRACK sync: the set our chains now hold (what a later failed sync rolls back to). */
  recordNotrackApplied(target: NotrackDesired): Promise<void>;
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

  async recordNotrackApplied(target: NotrackDesired): Promise<void> {
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
const MAX_BYTES = 1 << 20;

// The state dir is trusted no more than a policy file: every key becomes a
// path under /proc/sys/net/netfilter, every value is written to the kernel,
// every rule name ends up in iptables-restore input on a rollback.
// A rule is kept normalised (a DesiredNotrackRule): the API's rule with
// ranges for ports, checked CIDRs, a direction always written, and no
// allowBroadMatch.
const Port = z.number().int().min(1).max(65535);
const StoredCidr = z.string().refine((t) => parseCidr(t).ok, 'must be a CIDR');
const StoredRule = NotrackRule.omit({ allowBroadMatch: true })
  .extend({
    ports: z
      .array(
        z
          .object({ from: Port, to: Port })
          .strict()
          .refine((r) => r.from <= r.to, 'from must not exceed to'),
      )
      .max(15)
      .optional(),
    sources: z.array(StoredCidr).max(32).optional(),
    destinations: z.array(StoredCidr).max(32).optional(),
    direction: NotrackRule.shape.direction.unwrap(),
  })
  .strict();
const BaselineFile = z
  .object({
    version: z.literal(1).optional(),
    // A sysctl file name or the buckets key; values as the kernel holds them (unsigned 32-bit at most).
    values: z.record(z.string().regex(new RegExp(`^(nf_conntrack_[a-z0-9_]{1,64}|${BUCKETS_KEY})$`)), z.number().int().min(0).max(4294967295)),
    notrackOwned: z.boolean(),
    notrackApplied: z
      .object({ rules: z.array(StoredRule).max(32), acceptUntracked: z.boolean() })
      .strict()
      .optional(),
  })
  .strict();

function parseBaseline(text: string, path: string): Baseline {
  const fix = 'fix or remove it by hand, it holds the values to restore';
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); ${fix}`);
  }
  const parsed = BaselineFile.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    const problems = issueErrors(parsed.error.issues).map((p) => `${p.path || '(top)'}: ${p.message}`);
    throw new Error(`${path}: invalid (${problems.join('; ')}); ${fix}`);
  }
  const { values, notrackOwned, notrackApplied } = parsed.data;
  return { values, notrackOwned, ...(notrackApplied ? { notrackApplied } : {}) };
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
      text = (await readRegularFile(this.path, MAX_BYTES)).text;
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return emptyBaseline();
      throw err;
    }
    return parseBaseline(text, this.path);
  }

  protected async save(baseline: Baseline): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, ...baseline }, null, 2)}\n`, this.fs);
  }
}

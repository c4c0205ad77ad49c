// Where the agent's policies come from. Standalone: a file (this module);
// in a cluster: the API (src/kube). The agent only sees PolicySnapshot.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { ConntrackPolicyDoc } from '../api/v1alpha1/policy.js';
import { EXPLICIT_NO_POLICIES, formatPolicyErrors, parsePolicyDocuments, POLICY_LIMITS } from '../policy/load.js';
import { readRegularFile } from '../regular-file.js';
import { errnoCode, errorText } from '../errors.js';
import type { Log } from '../logger.js';
import { WorkQueue } from '../work-queue.js';
import { PolicyCache } from './policy-cache.js';

export interface PolicySnapshot {
  policies: ConntrackPolicyDoc[];
  /** Set when the latest version could not be used; `policies` then holds the last good set. */
  error?: string;
}

export interface PolicySource {
  current(): PolicySnapshot;
  /** Called after the snapshot changed. */
  onChange(listener: () => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * False while the source cannot yet tell "no policy" from "not loaded yet"
   * (the API not listed, no cache): the agent must not restore the node then.
   * Absent: always ready.
   */
  ready?(): boolean;
}

export interface PolicyFileSourceOptions {
  /** How often the file is looked at besides the directory watch. */
  pollMs: number;
  /** A version is used only once two looks this far apart saw the same thing (a rewrite in progress is not a policy). */
  settleMs: number;
  /** Where the last good policies are kept, so that a broken file at start-up does not lose them. Absent: not kept. */
  stateDir?: string;
  log?: Log;
  /** Waits ms (the settle time); a test hands in one it releases itself. Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** One look at the policy path. */
type Look = { kind: 'missing' } | { kind: 'refused'; message: string } | { kind: 'file'; text: string; fingerprint: string };

const CACHE_FILE = 'policy-file-cache.json';
/** The looks' one key. */
const FILE = 'file';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** Looks in a row that may each see a different version before the source gives up until the next change or poll. */
const MAX_LOOKS = 20;

function sameLook(a: Look, b: Look): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.fingerprint === b.fingerprint && a.text === b.text;
  if (a.kind === 'refused' && b.kind === 'refused') return a.message === b.message;
  return a.kind === b.kind;
}

/**
 * A policy file, re-read when it changes. Only a complete, stable version is
 * used, and only a deliberate removal of every policy restores the node: the
 * file deleted, or a file that is an explicit empty list (`[]`). Anything else
 * that cannot be used — unreadable, not a regular file, too large, empty,
 * comments only, a YAML or schema error, a version still being written —
 * keeps the last good policies in force and reports why. At start-up, the
 * last good policies kept in the state dir win over a broken file; with none
 * kept, the source is not ready (the agent restores nothing) until the file
 * is fixed.
 */
export class PolicyFileSource implements PolicySource {
  private snapshot: PolicySnapshot = { policies: [] };
  private listeners: Array<() => void> = [];
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private used: Look | null = null;
  private known = false;
  private stopped = false;
  private readonly cache: PolicyCache | null;
  /** One key, the file: a change seen during a look makes one more look right after it, never two at once. */
  private readonly looks = new WorkQueue<typeof FILE>(async () => (await this.settle(), {}), {
    backoff: { initialMs: 1000, maxMs: 60_000, jitter: 0.5 },
    onError: (_key, err, retryInMs) => this.opts.log?.error({ path: this.path, err: errorText(err), retryInMs }, 'looking at the policy file failed; retrying'),
  });

  constructor(
    private readonly path: string,
    private readonly opts: PolicyFileSourceOptions,
  ) {
    this.cache = opts.stateDir === undefined ? null : new PolicyCache(join(opts.stateDir, CACHE_FILE), opts.log);
  }

  current(): PolicySnapshot {
    return this.snapshot;
  }

  ready(): boolean {
    return this.known;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.refresh();
    if (!this.known) await this.useCache();
    // Watch the directory, not the file: editors and ConfigMap updates replace it by rename.
    try {
      this.watcher = watch(dirname(this.path), (_event, name) => {
        if (name === null || name === basename(this.path) || name === '..data') void this.refresh();
      });
      this.watcher.on('error', () => undefined); // the poll below still catches changes
    } catch {
      this.watcher = null;
    }
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    this.watcher = null;
    this.timer = null;
    await this.looks.shutdown();
  }

  /** Look at the file now (or once more after the look in flight); resolves when no look is left to make. */
  refresh(): Promise<void> {
    this.looks.add(FILE);
    return this.looks.idle();
  }

  /** Two looks settleMs apart that agree make a version; a version already used changes nothing. */
  private async settle(): Promise<void> {
    let previous = await this.look();
    for (let i = 0; i < MAX_LOOKS && !this.stopped; i++) {
      if (this.used && sameLook(previous, this.used)) return;
      await (this.opts.sleep ?? sleep)(this.opts.settleMs);
      const next = await this.look();
      if (sameLook(previous, next)) return this.use(next);
      previous = next;
    }
  }

  private async look(): Promise<Look> {
    try {
      const { text, fingerprint } = await readRegularFile(this.path, POLICY_LIMITS.maxBytes);
      return { kind: 'file', text, fingerprint };
    } catch (err) {
      // Both RefusedFile and node's errno errors name the path already.
      return errnoCode(err) === 'ENOENT' ? { kind: 'missing' } : { kind: 'refused', message: errorText(err) };
    }
  }

  private async use(look: Look): Promise<void> {
    this.used = look;
    if (look.kind === 'missing') return this.accept([], 'the policy file was removed: no policy');
    if (look.kind === 'refused') return this.keepLastGood(look.message);
    const parsed = parsePolicyDocuments(look.text, this.path);
    if ('errors' in parsed) return this.keepLastGood(formatPolicyErrors(parsed.errors));
    await this.accept(parsed.policies, parsed.policies.length === 0 ? `the policy file says "${EXPLICIT_NO_POLICIES}": no policy` : undefined);
    await this.cache?.save(parsed.policies, { path: this.path });
  }

  private async accept(policies: ConntrackPolicyDoc[], why: string | undefined): Promise<void> {
    this.known = true;
    if (why && this.snapshot.policies.length > 0) this.opts.log?.info({ path: this.path }, why);
    this.publish({ policies });
  }

  private keepLastGood(error: string): void {
    if (error !== this.snapshot.error) {
      this.opts.log?.warn(
        { path: this.path, err: error, kept: this.snapshot.policies.map((p) => p.metadata.name) },
        'the policy file cannot be used; the last good policies stay in force',
      );
    }
    this.publish({ policies: this.snapshot.policies, error });
  }

  private publish(next: PolicySnapshot): void {
    const changed = !isDeepStrictEqual(next, this.snapshot);
    this.snapshot = next;
    if (changed) for (const l of this.listeners) l();
  }

  /** The last good policies from the state dir, if kept for this path. */
  private async useCache(): Promise<void> {
    const kept = await this.cache?.load();
    if (!kept || kept.record['path'] !== this.path) return;
    this.known = true;
    this.opts.log?.warn(
      { path: this.path, err: this.snapshot.error, kept: kept.policies.map((p) => p.metadata.name) },
      'the policy file cannot be used; enforcing the last good policies kept in the state dir',
    );
    this.publish({ policies: kept.policies, ...(this.snapshot.error ? { error: this.snapshot.error } : {}) });
  }
}

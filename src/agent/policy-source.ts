// Where the agent's policies come from. Standalone: a file (this module);
// in a cluster: the API (src/kube). The agent only sees PolicySnapshot.
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ConntrackPolicyDoc } from '../policy/schema.js';
import { formatPolicyErrors, parsePolicyDocuments } from '../policy/load.js';
import { errnoCode } from '../kernel/kernel-files.js';

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

/**
 * A policy file, re-read when it changes. An invalid edit keeps the last good
 * policies in force (a typo must not restore a node) and reports the error; a
 * removed file means no policy (the agent restores the node).
 */
export class PolicyFileSource implements PolicySource {
  private snapshot: PolicySnapshot = { policies: [] };
  private listeners: Array<() => void> = [];
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private fingerprint = '';

  constructor(
    private readonly path: string,
    private readonly pollMs: number,
  ) {}

  current(): PolicySnapshot {
    return this.snapshot;
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    await this.refresh();
    // Watch the directory, not the file: editors and ConfigMap updates replace it by rename.
    try {
      this.watcher = watch(dirname(this.path), (_event, name) => {
        if (name === null || name === basename(this.path) || name === '..data') void this.refresh();
      });
      this.watcher.on('error', () => undefined); // the poll below still catches changes
    } catch {
      this.watcher = null;
    }
    this.timer = setInterval(() => void this.refresh(), this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
    this.watcher = null;
    this.timer = null;
  }

  /** Re-read the file if it changed; returns whether the snapshot changed. */
  async refresh(): Promise<boolean> {
    let text: string | null;
    let fingerprint: string;
    try {
      const st = await stat(this.path);
      fingerprint = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (fingerprint === this.fingerprint) return false;
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') return this.publish({ policies: this.snapshot.policies, error: `${this.path}: ${String(err)}` });
      fingerprint = 'missing';
      if (fingerprint === this.fingerprint) return false;
      text = null;
    }
    this.fingerprint = fingerprint;
    if (text === null) return this.publish({ policies: [] });
    const parsed = parsePolicyDocuments(text, this.path);
    if ('errors' in parsed) {
      return this.publish({ policies: this.snapshot.policies, error: formatPolicyErrors(parsed.errors) });
    }
    return this.publish({ policies: parsed.policies });
  }

  private publish(next: PolicySnapshot): boolean {
    const changed = JSON.stringify(next) !== JSON.stringify(this.snapshot);
    this.snapshot = next;
    if (changed) for (const l of this.listeners) l();
    return changed;
  }
}

// The last good policies, kept in the state dir so that an agent restarted
// while its source is broken (the file) or out of reach (the API) still
// enforces them. One record for both sources: a JSON object with `policies`
// and whatever else the source keeps. Read back like a policy file: a regular
// file, size-capped, every policy validated again (the schema may have moved
// on, the file may have been tampered with); a record that fails is not used.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ConntrackPolicyDoc } from '../api/v1alpha1/policy.js';
import { formatPolicyErrors, POLICY_LIMITS, validatePolicyObjects } from '../policy/load.js';
import { writeFileAtomic } from '../atomic-file.js';
import { readRegularFile } from '../regular-file.js';
import { errnoCode, errorText } from '../errors.js';
import type { Log } from '../logger.js';

export interface KeptPolicies {
  policies: ConntrackPolicyDoc[];
  /** The record's other fields, as the source wrote them: the source checks what it reads there. */
  record: Record<string, unknown>;
}

export class PolicyCache {
  constructor(
    readonly path: string,
    private readonly log?: Log,
  ) {}

  /** What was kept; null when nothing was, or (logged) when it cannot be used. */
  async load(): Promise<KeptPolicies | null> {
    try {
      const record = JSON.parse((await readRegularFile(this.path, POLICY_LIMITS.maxBytes)).text) as unknown;
      if (typeof record !== 'object' || record === null || !Array.isArray((record as { policies?: unknown }).policies)) {
        throw new Error(`${this.path}: not a record of kept policies (no "policies" list)`);
      }
      const { policies, ...rest } = record as { policies: unknown[] };
      const parsed = validatePolicyObjects(
        policies.map((object, i) => ({ object, document: i + 1 })),
        this.path,
      );
      if ('errors' in parsed) throw new Error(formatPolicyErrors(parsed.errors));
      return { policies: parsed.policies, record: rest };
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT') this.log?.warn({ path: this.path, err: errorText(err) }, 'the kept policies cannot be used');
      return null;
    }
  }

  /** Keeps the policies and the source's other fields; a failure is logged, not thrown (the policies are in force anyway). */
  async save(policies: readonly ConntrackPolicyDoc[], rest: Record<string, unknown> = {}): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.path, `${JSON.stringify({ ...rest, policies })}\n`);
    } catch (err) {
      this.log?.warn({ path: this.path, err: errorText(err) }, 'could not keep the policies in the state dir');
    }
  }
}

// Applies a plan all-or-nothing: each value is written, read back and compared;
// on the first failure everything this run changed is put back in reverse order.
import type { Host } from '../kernel/host.js';
import type { NotrackBackend } from '../kernel/notrack/backend.js';
import { bucketsMatch, type Action, type ValueAction } from './planner.js';
import { errnoCode, errorText } from '../errors.js';

interface ActionError {
  action: Action;
  error: string;
}

export interface ExecutionResult {
  ok: boolean;
  applied: Action[];
  failed?: ActionError;
  rolledBack: Action[];
  rollbackErrors: ActionError[];
}

const ERRNO_MEANING: Record<string, string> = {
  EACCES: 'permission denied (read-only in this network namespace, or not root)',
  EPERM: 'permission denied (read-only in this network namespace, or not root)',
  EROFS: 'read-only file system (mount /sys read-write)',
  EINVAL: 'the kernel refused the value',
  ENOENT: 'not present on this kernel',
  EOPNOTSUPP: 'only the host network namespace may change it',
};

/** "nf_conntrack_max = 1048576: permission denied (read-only in this network namespace, or not root) (EACCES)". */
export function writeErrorMessage(key: string, value: number, err: unknown): string {
  const code = errnoCode(err);
  const meaning = code ? ERRNO_MEANING[code] : undefined;
  const why = meaning ? `${meaning} (${code})` : errorText(err);
  return `${key} = ${value}: ${why}`;
}

/** A write the kernel took but whose value does not read back: it may have changed something. */
class ReadBackMismatch extends Error {}

export class Executor {
  constructor(
    private readonly host: Pick<Host, 'files' | 'paths'>,
    private readonly backend: NotrackBackend | null,
  ) {}

  async execute(actions: readonly Action[]): Promise<ExecutionResult> {
    const applied: Action[] = [];
    for (const action of actions) {
      try {
        await this.forward(action);
        applied.push(action);
      } catch (err) {
        const failed = { action, error: errorText(err) };
        // A mismatched read-back or a NOTRACK sync (which may be one
        // transaction per IP family) can leave a change behind: undo it too.
        const undo = err instanceof ReadBackMismatch || action.kind.startsWith('notrack') ? [...applied, action] : applied;
        return { ok: false, applied, failed, ...(await this.rollBack(undo)) };
      }
    }
    return { ok: true, applied, rolledBack: [], rollbackErrors: [] };
  }

  private async rollBack(changed: Action[]): Promise<Pick<ExecutionResult, 'rolledBack' | 'rollbackErrors'>> {
    const rolledBack: Action[] = [];
    const rollbackErrors: ActionError[] = [];
    for (const action of [...changed].reverse()) {
      try {
        await this.backward(action);
        rolledBack.push(action);
      } catch (err) {
        rollbackErrors.push({ action, error: errorText(err) });
      }
    }
    return { rolledBack, rollbackErrors };
  }

  private forward(action: Action): Promise<void> {
    switch (action.kind) {
      case 'notrack-sync':
        return this.requireBackend().sync(action.to);
      case 'notrack-remove':
        return this.requireBackend().remove();
      default:
        return this.writeValue(action, action.to);
    }
  }

  private backward(action: Action): Promise<void> {
    if (action.kind === 'notrack-sync' || action.kind === 'notrack-remove') {
      const backend = this.requireBackend();
      return action.from ? backend.sync(action.from) : backend.remove();
    }
    return this.writeValue(action, action.from);
  }

  private async writeValue(action: ValueAction, value: number): Promise<void> {
    const path = this.pathOf(action);
    try {
      await this.host.files.write(path, `${value}\n`);
    } catch (err) {
      throw new Error(writeErrorMessage(action.key, value, err), { cause: err });
    }
    let readBack: number;
    try {
      readBack = Number((await this.host.files.read(path)).trim());
    } catch (err) {
      throw new ReadBackMismatch(`${action.key} = ${value}: cannot read it back: ${errorText(err)}`, { cause: err });
    }
    const same = action.kind === 'buckets' ? bucketsMatch(value, readBack) : readBack === value;
    if (!same) throw new ReadBackMismatch(`${action.key} = ${value}: the kernel reads back ${readBack}`);
  }

  private pathOf(action: ValueAction): string {
    if (action.kind === 'sysctl') return this.host.paths.sysctl(action.key);
    return action.via === 'sysctl' ? this.host.paths.sysctl('nf_conntrack_buckets') : this.host.paths.hashsizeParam();
  }

  private requireBackend(): NotrackBackend {
    if (!this.backend) throw new Error('notrack: no NOTRACK backend on this host');
    return this.backend;
  }
}

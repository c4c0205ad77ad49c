// Runs a tool through the injected CommandRunner and turns a non-zero exit
// into an Error naming the command, its exit code and stderr.
import type { CommandResult, CommandRunner } from '../command-runner.js';
import { errnoCode } from '../../errors.js';

export class CommandFailedError extends Error {
  constructor(
    readonly command: string,
    readonly code: number,
    readonly stderr: string,
  ) {
    super(`${command} failed with exit code ${code}: ${stderr.trim() || '(no stderr)'}`);
    this.name = 'CommandFailedError';
  }
}

export async function runChecked(runner: CommandRunner, cmd: string, args: string[], input?: string): Promise<CommandResult> {
  let result: CommandResult;
  try {
    result = await runner.run(cmd, args, input === undefined ? {} : { input });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new Error(`${cmd} is not installed (needed for the NOTRACK rules; or choose another --notrack-backend)`);
    throw err;
  }
  if (result.code !== 0) throw new CommandFailedError([cmd, ...args].join(' '), result.code, result.stderr);
  return result;
}

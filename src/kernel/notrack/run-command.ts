// Runs a tool through the injected CommandRunner and turns a non-zero exit
// into an Error naming the command, its exit code and stderr.
import type { CommandResult, CommandRunner } from '../command-runner.js';

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
  const result = await runner.run(cmd, args, input === undefined ? {} : { input });
  if (result.code !== 0) throw new CommandFailedError([cmd, ...args].join(' '), result.code, result.stderr);
  return result;
}

// The one fake CommandRunner: answers from a table keyed by command line (or
// by tool) and records every call. A command with no answer at all is not
// installed (ENOENT, as spawn says); a tool that has answers, called with an
// argument list it has none for, is a mistake in the test or the code, not a
// missing binary, and says so. A stream's `done` settles once its output has
// been read, as a child's exit does after its stdout is drained.
import type { CommandResult, CommandRunner, ChunkStream, RunOptions } from '../../src/kernel/command-runner.js';
import { errno } from './fake-kernel.js';

export interface RecordedCall {
  cmd: string;
  args: string[];
  input?: string;
}

/** Answers every argument list of one command (the arguments decide the answer), as iptablesSave does. */
export class ToolAnswer {
  constructor(readonly answer: (call: RecordedCall) => CommandResult) {}
}

/** A result, a result made from the call, or a whole tool's answers. */
export type Answer = CommandResult | ((call: RecordedCall) => CommandResult) | ToolAnswer;

export type Answers = Record<string, Answer>;

export function ok(stdout = ''): CommandResult {
  return { code: 0, stdout, stderr: '' };
}

export class FakeRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];

  /**
   * Answers keyed by the command line ("iptables-nft-save -t nat", "conntrack -S"),
   * or by the command alone for a ToolAnswer; a command with no answer is not installed (ENOENT).
   */
  constructor(private readonly answers: Answers = {}) {}

  /** The calls as command lines, "conntrack -L -o extended". */
  commandLines(): string[] {
    return this.calls.map((c) => [c.cmd, ...c.args].join(' '));
  }

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return this.answer({ cmd, args, ...(opts.input === undefined ? {} : { input: opts.input }) });
  }

  streamChunks(cmd: string, args: string[]): ChunkStream {
    let result: CommandResult | undefined;
    let failure: unknown;
    try {
      result = this.answer({ cmd, args });
    } catch (err) {
      failure = err;
    }
    let exited: () => void = () => undefined;
    const drained = new Promise<void>((resolve) => (exited = resolve));
    // Uneven chunks, as a pipe delivers them: lines split across chunk borders must still parse.
    const chunks = (async function* () {
      try {
        const out = Buffer.from(result?.stdout ?? '', 'latin1');
        for (let i = 0; i < out.length; i += 4093) yield out.subarray(i, i + 4093);
      } finally {
        exited();
      }
    })();
    // A spawn that failed rejects at once; a run that started exits only once its output is read.
    const done = failure ? Promise.reject(failure) : drained.then(() => ({ code: result!.code, stderr: result!.stderr }));
    done.catch(() => undefined);
    return { chunks, done };
  }

  private answer(call: RecordedCall): CommandResult {
    this.calls.push(call);
    const line = [call.cmd, ...call.args].join(' ');
    // Keys are command lines: an argument holding a space would match another argument list.
    if (call.args.some((a) => /\s/.test(a)))
      throw new Error(`FakeRunner: an argument with a space cannot be told apart by a command line: ${JSON.stringify(call.args)}`);
    const tool = this.answers[call.cmd];
    const answer = this.answers[line] ?? (tool instanceof ToolAnswer ? tool : undefined);
    if (answer !== undefined) return answer instanceof ToolAnswer ? answer.answer(call) : typeof answer === 'function' ? answer(call) : answer;
    if (Object.keys(this.answers).some((k) => k.split(' ')[0] === call.cmd)) throw new Error(`FakeRunner: ${call.cmd} is answered, but not for: ${line}`);
    throw errno('ENOENT', `spawn ${call.cmd}`, call.cmd);
  }
}

// The one fake CommandRunner: answers from a table keyed by command line (or
// by tool), records every call, and fails like the real thing: a command with
// no answer is not installed (ENOENT, as spawn says), and an answer can be
// any other errno the spawn would raise.
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

/** A result, a result made from the call, a whole tool's answers, or the errno the spawn fails with. */
export type Answer = CommandResult | ((call: RecordedCall) => CommandResult) | ToolAnswer | { error: string };

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
    // Uneven chunks, as a pipe delivers them: lines split across chunk borders must still parse.
    const chunks = (async function* () {
      const out = Buffer.from(result?.stdout ?? '', 'latin1');
      for (let i = 0; i < out.length; i += 4093) yield out.subarray(i, i + 4093);
    })();
    const done = failure ? Promise.reject(failure) : Promise.resolve({ code: result!.code, stderr: result!.stderr });
    done.catch(() => undefined);
    return { chunks, done };
  }

  private answer(call: RecordedCall): CommandResult {
    this.calls.push(call);
    const tool = this.answers[call.cmd];
    const answer = this.answers[[call.cmd, ...call.args].join(' ')] ?? (tool instanceof ToolAnswer ? tool : undefined);
    if (answer === undefined) throw errno('ENOENT', `spawn ${call.cmd}`, call.cmd);
    if (answer instanceof ToolAnswer) return answer.answer(call);
    if (typeof answer === 'function') return answer(call);
    if ('error' in answer) throw errno(answer.error, `spawn ${call.cmd}`, call.cmd);
    return answer;
  }
}

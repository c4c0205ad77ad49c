// A CommandRunner that answers from a table of canned results and records
// every call, for tests that count and inspect the tool invocations.
import type { CommandResult, CommandRunner, ChunkStream, RunOptions } from '../../src/kernel/command-runner.js';

export interface RecordedCall {
  cmd: string;
  args: string[];
  input?: string;
}

type Answer = CommandResult | ((call: RecordedCall) => CommandResult);

export class FakeRunner implements CommandRunner {
  readonly calls: RecordedCall[] = [];

  /** Answers keyed by the command line ("iptables-nft-save", "nft list table inet conntrack_operator"). */
  constructor(private readonly answers: Record<string, Answer>) {}

  async run(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandResult> {
    const call: RecordedCall = { cmd, args, ...(opts.input === undefined ? {} : { input: opts.input }) };
    this.calls.push(call);
    const answer = this.answers[[cmd, ...args].join(' ')];
    if (answer === undefined) throw Object.assign(new Error(`spawn ${cmd} ENOENT`), { code: 'ENOENT' });
    return typeof answer === 'function' ? answer(call) : answer;
  }

  streamChunks(cmd: string): ChunkStream {
    throw new Error(`FakeRunner: streamChunks(${cmd}) is not used by these tests`);
  }
}

export function ok(stdout = ''): CommandResult {
  return { code: 0, stdout, stderr: '' };
}

// The node agent: on every tick (and at once when the policy or the node's
// labels change, or when the table watch between passes sees drops, a table
// filling up or a new namespace) it runs a pass (agent-pass.ts). Level-based:
// each pass starts from what the kernel shows now, so a missed tick or a
// restart loses nothing. The loop holds one value between passes, the state
// the last pass returned; the watch holds its short history of counts. Every
// trigger adds the one key, the node, to a work queue: a trigger during a pass
// makes one more pass right after it, however many came, and passes never overlap.
import { WorkQueue, realQueueClock } from '../work-queue.js';
import { errorText } from '../errors.js';
import { readinessProblem } from './readiness.js';
import { AgentPass, type PassDeps, type PassOptions, type PassResult } from './agent-pass.js';
import { initialState, stuckProblem, type AgentState } from './agent-state.js';
import { TableWatch, type TableWatchOptions } from './table-watch.js';

export interface NodeAgentOptions extends PassOptions {
  /** The watch between passes, so a full table is reported, and a filling one grown, within seconds. */
  watch: TableWatchOptions;
}

export class NodeAgent {
  private timer: NodeJS.Timeout | null = null;
  private readonly watch: TableWatch;
  private state: AgentState = initialState();
  private readonly onePass: AgentPass;
  private readonly passes: WorkQueue<typeof NODE>;

  constructor(
    private readonly opts: NodeAgentOptions,
    private readonly deps: PassDeps,
  ) {
    this.watch = new TableWatch(deps.host, opts.watch, (why) => {
      deps.logger.debug({ why }, 'the table watch asks for a pass');
      this.trigger();
    });
    this.onePass = new AgentPass(opts, deps, this.watch);
    this.passes = new WorkQueue(
      async () => (await this.pass(), {}),
      {
        // A pass reports its own failures; one that throws is a bug: tried again within the interval, and by the ticks.
        backoff: { initialMs: 1000, maxMs: opts.intervalMs, jitter: 0.5 },
        onError: (_key, err, retryInMs) => this.deps.logger.error({ err: errorText(err), retryInMs }, 'reconcile pass failed unexpectedly; retrying'),
      },
      { ...realQueueClock, now: deps.host.clock },
    );
  }

  start(): void {
    this.state = { ...this.state, lastPassEndMs: this.deps.host.clock() }; // a first pass that hangs counts as late too
    this.deps.policies.onChange(() => this.trigger());
    this.trigger();
    this.timer = setInterval(() => this.trigger(), this.opts.intervalMs);
    this.watch.start();
  }

  /** Run a pass now, or right after the one running. */
  trigger(): void {
    this.passes.add(NODE);
  }

  /** Resolves when the watch's look in flight has finished, and then no pass runs and none is due at once (the interval's next one aside). */
  async settled(): Promise<void> {
    await this.watch.idle();
    await this.passes.idle();
  }

  /** Finish the pass in flight, then stop; nothing is half-written. Returns the state the last pass left. */
  async stop(): Promise<AgentState> {
    if (this.timer) clearInterval(this.timer);
    await this.watch.stop();
    await this.passes.shutdown();
    return this.state;
  }

  liveProblem(): string | null {
    return stuckProblem(this.state.lastPassEndMs, this.deps.host.clock(), this.opts.intervalMs);
  }

  /** See readiness.ts for what ready means. */
  readyProblem(): string | null {
    const { passesDone, lastPassError } = this.state;
    return readinessProblem({ passesDone, policiesKnown: this.deps.policies.ready?.() !== false, lastPassError });
  }

  /** One pass from the last one's state; never throws (a failed pass is reported and retried on the next tick). */
  async pass(): Promise<PassResult> {
    const result = await this.onePass.run(this.state);
    this.state = result.state;
    return result;
  }
}

/** The queue's one key. */
const NODE = 'node';

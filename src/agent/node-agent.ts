// The node agent: on every tick (and at once when the policy or the node's
// labels change) it runs a pass (agent-pass.ts). Level-based: each pass starts
// from what the kernel shows now, so a missed tick or a restart loses nothing.
// The loop holds one value between passes, the state the last pass returned.
import { readConntrackStats } from '../kernel/stats.js';
import { SerialTask } from '../serial-task.js';
import { errorText } from '../errors.js';
import { readinessProblem } from './readiness.js';
import { AgentPass, type PassDeps, type PassOptions, type PassResult } from './agent-pass.js';
import { dropRose, initialState, stuckProblem, type AgentState } from './agent-state.js';

export interface NodeAgentOptions extends PassOptions {
  /** How often the drop counter alone is read between passes, so a full table is reported within seconds. */
  dropProbeMs: number;
}

export class NodeAgent {
  private timer: NodeJS.Timeout | null = null;
  private probeTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private state: AgentState = initialState();
  private readonly onePass: AgentPass;
  private readonly passes = new SerialTask(
    () => this.pass(),
    () => !this.stopped,
    (err) => this.deps.logger.error({ err: errorText(err) }, 'reconcile pass failed unexpectedly; the next tick retries'),
  );

  constructor(
    private readonly opts: NodeAgentOptions,
    private readonly deps: PassDeps,
  ) {
    this.onePass = new AgentPass(opts, deps);
  }

  start(): void {
    this.state = { ...this.state, lastPassEndMs: this.deps.host.clock().getTime() }; // a first pass that hangs counts as late too
    this.deps.policies.onChange(() => this.trigger());
    this.trigger();
    this.timer = setInterval(() => this.trigger(), this.opts.intervalMs);
    this.probeTimer = setInterval(() => void this.probeDrops(), this.opts.dropProbeMs);
  }

  /** Between passes: a rising drop counter (a full table or an insertion race) is reported at once. */
  private async probeDrops(): Promise<void> {
    const before = this.state.lastDrop;
    if (this.passes.busy || before === undefined) return;
    const { host } = this.deps;
    const stats = await readConntrackStats(host).catch(() => null);
    if (dropRose(before, stats?.counters?.drop)) this.trigger();
  }

  /** Run a pass now, or right after the one running. */
  trigger(): void {
    this.passes.trigger();
  }

  /** Finish the pass in flight, then stop; nothing is half-written. Returns the state the last pass left. */
  async stop(): Promise<AgentState> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.probeTimer) clearInterval(this.probeTimer);
    await this.passes.idle();
    return this.state;
  }

  liveProblem(): string | null {
    return stuckProblem(this.state.lastPassEndMs, this.deps.host.clock().getTime(), this.opts.intervalMs);
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

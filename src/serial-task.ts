// Runs a task now, or once more right after the run in flight: a burst of
// triggers (watch events, timer ticks) collapses into one extra run, and two
// runs never overlap.
export class SerialTask {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    /** Whether triggers are still welcome (false once stopping). */
    private readonly active: () => boolean,
  ) {}

  trigger(): void {
    if (!this.active()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.task();
      } while (this.again && this.active());
      this.running = null;
    })();
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Resolves when no run is in flight. */
  async idle(): Promise<void> {
    await this.running;
  }
}

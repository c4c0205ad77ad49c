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
    /** A task that throws is reported here, and the next trigger runs it again. */
    private readonly onError: (err: unknown) => void,
  ) {}

  trigger(): void {
    if (!this.active()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.task().catch(this.onError);
        } while (this.again && this.active());
      } finally {
        this.running = null;
      }
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

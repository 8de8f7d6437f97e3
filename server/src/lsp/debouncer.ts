/** Runs the latest task per key once the key has been quiet for `delayMs`. */
export class Debouncer {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly delayMs: number) {}

  schedule(key: string, task: () => void): void {
    const pending = this.timers.get(key);
    if (pending) clearTimeout(pending);
    // No delay means no timer: setTimeout(0) still waits a tick, which Node clamps to 1 ms.
    if (this.delayMs <= 0) {
      this.timers.delete(key);
      task();
      return;
    }
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        task();
      }, this.delayMs),
    );
  }

  cancel(key: string): void {
    const pending = this.timers.get(key);
    if (pending) clearTimeout(pending);
    this.timers.delete(key);
  }
}

/**
 * Retry delays: exponential from `baseMs`, capped at `maxMs`, with jitter over the upper half of
 * each step (so many clients that failed together do not return together), reset after a success.
 * Kept in memory only: a restarted process tries at once (vast.ai hosts had to delete a persisted
 * backoff file to get their machines back online).
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
    /** Math.random by default; `() => 1` gives plain doubling without jitter. */
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Wait `ms`; an abort ends the wait early (without throwing: the caller checks its signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Reconnect delays: exponential with full jitter, capped, reset after a connection that stayed
 * up. Kept in memory only: a restarted agent tries at once (vast.ai hosts had to delete a
 * persisted backoff file to get their machines back online).
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly baseMs = 500,
    private readonly maxMs = 30_000,
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

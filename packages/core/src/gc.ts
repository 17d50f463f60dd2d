/** V8's `gc()`: a full collection, or with `{ type: "minor" }` a young-generation one. */
export type V8Collector = (options?: { type: "minor" | "major"; execution: "sync" | "async" }) => void;

/**
 * V8's `gc()` for long-running processes that pace their own collections (the S3 gateway, transfer
 * chunk loops), or `null`. Node has no API for it: the process must be started with `--expose-gc`,
 * which the `podkit` launcher and the agent's systemd unit pass. V8 flags are never changed here
 * after start (Node documents that as unsafe); without the flag callers only use memory less tightly.
 */
export function takeV8Collector(): V8Collector | null {
  const exposed = (globalThis as { gc?: V8Collector }).gc;
  return typeof exposed === "function" ? exposed : null;
}

/** Chunk bytes between two young-generation collections. */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * Keeps chunk garbage from piling up in loops that stream data through short-lived Buffers outside
 * the JS heap (socket reads, a cipher's output). V8 frees young external memory only once 32 MiB
 * of it has accumulated, and chunks that outlive a collection wait for a full one (64 MiB more),
 * so a streaming process's RSS sat 40–60 MB above its working set. A young-generation collection
 * after every 8 MiB of chunks (well under a millisecond, since almost nothing in the young
 * generation survives) keeps that garbage to a few MiB.
 */
export class ChunkGarbage {
  private pending = 0;
  private collect: V8Collector | null | undefined;

  constructor(private readonly everyBytes = COLLECT_EVERY_BYTES) {}

  /** Counts `bytes` of chunk buffers that just became garbage. Returns whether a collection ran. */
  dropped(bytes: number): boolean {
    this.pending += bytes;
    if (this.pending < this.everyBytes) return false;
    this.pending = 0;
    if (this.collect === undefined) this.collect = takeV8Collector();
    this.collect?.({ type: "minor", execution: "sync" });
    return this.collect !== null;
  }
}

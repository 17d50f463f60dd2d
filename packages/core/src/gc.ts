import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/** V8's `gc()`: a full collection, or with `{ type: "minor" }` a young-generation one. */
export type V8Collector = (options?: { type: "minor" | "major"; execution: "sync" | "async" }) => void;

/**
 * V8's `gc()` for long-running processes that pace their own collections (the host agent, transfer
 * chunk loops). Node has no API for it: `--expose-gc` on the command line would be needed, so the
 * flag is set just long enough for one fresh context to carry the function, then turned off again,
 * so contexts the host application creates later keep the globals they would have had.
 * `null` on a runtime that refuses the flag; callers then only use memory less tightly.
 */
export function takeV8Collector(): V8Collector | null {
  const exposed = (globalThis as { gc?: V8Collector }).gc;
  if (typeof exposed === "function") return exposed;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
    return typeof gc === "function" ? (gc as V8Collector) : null;
  } catch {
    return null;
  } finally {
    setFlagsFromString("--no-expose-gc");
  }
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

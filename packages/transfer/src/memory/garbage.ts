import { takeV8Collector, type V8Collector } from "@podkit/core";

/** Chunk bytes between two young-generation collections. */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

let collect: V8Collector | null | undefined;

function collector(): V8Collector | null {
  if (collect === undefined) collect = takeV8Collector();
  return collect;
}

/**
 * Keeps chunk garbage from piling up. Every chunk passes through Buffers that live outside the JS heap
 * (socket reads, and the cipher's output: Node's AES-GCM cannot write into a caller's buffer). V8
 * frees young external memory only once 32 MiB of it has accumulated, and chunks that outlive a
 * collection wait for a full one (64 MiB more), so a transfer's RSS sat 40–60 MB above its working
 * set. A young-generation collection after every 8 MiB of chunks (well under a millisecond, since
 * almost nothing in the young generation survives) keeps that garbage to a few MiB.
 */
export class ChunkGarbage {
  private pending = 0;

  constructor(private readonly everyBytes = COLLECT_EVERY_BYTES) {}

  /** Counts `bytes` of chunk buffers that just became garbage. Returns whether a collection ran. */
  dropped(bytes: number): boolean {
    this.pending += bytes;
    if (this.pending < this.everyBytes) return false;
    this.pending = 0;
    const gc = collector();
    gc?.({ type: "minor", execution: "sync" });
    return gc !== null;
  }
}

/** One pacer per process: sender and receiver chunk loops all count into it. */
export const chunkGarbage = new ChunkGarbage();

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

type Collect = (options: { type: "minor" | "major"; execution: "sync" | "async" }) => void;

/** Chunk bytes between two young-generation collections. */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

let collect: Collect | null | undefined;

/** V8's `gc()`: the one `--expose-gc` gives, or one taken from a fresh context after setting that flag. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    const exposed = (globalThis as { gc?: Collect }).gc;
    if (exposed) collect = exposed;
    else {
      setFlagsFromString("--expose-gc");
      try {
        collect = runInNewContext("gc") as Collect;
      } finally {
        // Only this one function is wanted: contexts the host application creates later keep
        // their globals as they would have been.
        setFlagsFromString("--no-expose-gc");
      }
    }
  } catch {
    collect = null; // a runtime without the flag: memory is then only less tight, never wrong
  }
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

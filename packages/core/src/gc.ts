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

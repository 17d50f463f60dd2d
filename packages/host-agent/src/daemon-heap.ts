import { setFlagsFromString } from "node:v8";
// The light entry of core: the whole of it (zod, pino) would grow the heap before it is tuned.
import { takeV8Collector } from "@podkit/core/gc";

export interface DaemonHeap {
  /** Whether a full collection can be requested on this Node (false: `compact` does nothing). */
  readonly canCompact: boolean;
  /** A full (mark-compact) collection now; the agent calls it after each collection cycle. */
  compact(): void;
}

/**
 * V8 sizes its heap for throughput; the agent wakes every 10 s, works ~20 ms and sleeps. Measured
 * with `process.memoryUsage()` and `v8.getHeapSpaceStatistics()` over simulated cycles (README,
 * Performance): the live heap stays at ~13 MB, but
 *  - every cycle's reading, health and metrics survive at least one scavenge, and V8 doubles the
 *    young generation each time more than its size has survived, so after ~100 cycles it sits at
 *    its 2 × 16 MB maximum and is never shrunk while the process stays busy;
 *  - with a small young generation those per-cycle objects are promoted instead and old space
 *    fills with them up to the next mark-compact (+25 MB over an hour).
 * So the dedicated agent process keeps the young generation at its initial size, runs a
 * mark-compact after each cycle (~15 ms every 10 s on a loaded 2-core machine) and does without
 * the optimising compiler.
 *
 * These settings are process-wide: call this only in a process that is the agent and nothing
 * else (`podkit agent run`), never where the agent runs beside servers (`podkit up`), and as early
 * as possible (modules loaded before it have already grown the young generation).
 */
export function tuneHeapForDaemon(): DaemonHeap {
  setFlagsFromString("--semi-space-growth-factor=1");
  // No optimising compiler: ~20 ms of work every 10 s gains nothing from it, and its compile
  // zones and optimised code cost ~9 MB of RSS (measured with `node --no-opt`, README).
  setFlagsFromString("--no-opt");
  const collect = takeV8Collector();
  if (!collect) return { canCompact: false, compact: () => {} };
  return { canCompact: true, compact: () => collect() };
}

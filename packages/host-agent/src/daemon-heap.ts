export interface DaemonHeap {
  /** Whether a full collection can be requested (the process was started with `--expose-gc`). */
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
 * So the daemon's process is started with `NODE_FLAGS` (systemd unit): young generation capped,
 * no optimising compiler, `gc` exposed so the agent runs a mark-compact after each cycle. Node
 * documents flipping V8 flags after start as unsafe, so nothing here sets one: in a process
 * started without the flags, `compact` does nothing.
 */
export function tuneHeapForDaemon(): DaemonHeap {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc !== "function") return { canCompact: false, compact: () => {} };
  return { canCompact: true, compact: () => gc() };
}

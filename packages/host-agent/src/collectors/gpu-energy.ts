/**
 * Energy per GPU, integrated from its sampled power draw. nvidia-smi has no energy field in any
 * recorded driver's `--help-query-gpu` or `-q` (NVML's total-energy counter is not exposed through
 * it), so the agent adds up power × time between its own readings (trapezoid rule), the way a
 * counter of joules since the agent started.
 */
export class EnergyIntegrator {
  private readonly last = new Map<string, { atMs: number; watts: number }>();

  /** @param maxGapMs a longer gap between readings adds nothing: no power is invented for it. */
  constructor(private readonly maxGapMs = 5 * 60_000) {}

  /** Joules used by `uuid` since its previous reading (0 for the first, a repeat, or a long gap). */
  add(uuid: string, atMs: number, watts: number): number {
    const prev = this.last.get(uuid);
    if (prev && atMs <= prev.atMs) return 0; // the same (stale) reading again, or a clock step back
    this.last.set(uuid, { atMs, watts });
    if (!prev || atMs - prev.atMs > this.maxGapMs) return 0;
    return ((prev.watts + watts) / 2) * ((atMs - prev.atMs) / 1000);
  }
}

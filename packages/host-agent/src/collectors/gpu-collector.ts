import type { GpuReadingWithMeta } from "../parse/reading.js";
import { BudgetExceeded, type Collector, type CollectorContext } from "./collector.js";
import type { GpuDetailsReading } from "./gpu.js";
import { gpuMetrics } from "./gpu-metrics.js";

const DEFAULT_STALE_LIMIT_MS = 120_000;

/**
 * GPUs through a GpuSource (nvidia-smi or a labelled replay): the cheap per-cycle reading. Slow is
 * not absent: a run that overruns its budget leaves the last complete reading in place, marked
 * stale, for up to `gpuStaleLimitMs`; only a read that fails for a stated reason (nvidia-smi timed
 * out, GPU lost, driver mismatch …) or a reading older than the limit changes health.
 */
export function gpuCollector(c: CollectorContext): Collector<GpuReadingWithMeta> {
  const timeoutMs = c.collectorTimeoutMs ?? 10_000;
  const staleLimitMs = c.gpuStaleLimitMs ?? DEFAULT_STALE_LIMIT_MS;
  let lastGood: { reading: GpuReadingWithMeta; atMs: number } | null = null;
  const complete = (r: GpuReadingWithMeta) => r.failure === null && r.problems.length === 0;
  return {
    name: "gpu",
    intervalMs: c.gpuIntervalMs ?? 10_000,
    // Field discovery, a refused field and the per-index fallback each add a call.
    budgetMs: 3 * timeoutMs + 2000,
    async collect({ signal }) {
      const reading = await c.gpuSource.read(c.listedIndexes(), signal);
      if (complete(reading)) lastGood = { reading, atMs: Date.now() };
      return reading;
    },
    succeeded: (r) => complete(r) && !r.stale,
    failed: (err, previous) => {
      const ageMs = lastGood ? Date.now() - lastGood.atMs : null;
      if (err instanceof BudgetExceeded && lastGood && ageMs !== null && ageMs <= staleLimitMs) {
        c.logger.warn(
          { err: err.message, ageSeconds: Math.round(ageMs / 1000) },
          "GPU reading is late; keeping the last complete one (stale)",
        );
        return { ...lastGood.reading, stale: { reason: err.message, since: lastGood.reading.at } };
      }
      const message =
        ageMs === null
          ? `no complete GPU reading yet: ${err.message}`
          : `no complete GPU reading for ${Math.round(ageMs / 1000)} s: ${err.message}`;
      return {
        gpus: [],
        failure: { kind: "timeout", code: "NVIDIA_SMI_TIMEOUT", message, evidence: err.message },
        problems: [],
        at: new Date().toISOString(),
        driverVersion: previous?.driverVersion ?? null,
        cudaVersion: previous?.cudaVersion ?? null,
      };
    },
    metrics: (registry) => gpuMetrics(registry, c.gpuSource.simulated),
  };
}

/** The expensive nvidia-smi reads, on their own (slower) schedule and budget; the GPU reading carries what they found. */
export function gpuDetailsCollector(c: CollectorContext): Collector<GpuDetailsReading> | null {
  const { gpuSource } = c;
  if (!gpuSource.readDetails) return null;
  const timeoutMs = c.collectorTimeoutMs ?? 10_000;
  return {
    name: "gpu-details",
    intervalMs: 4 * (c.gpuIntervalMs ?? 10_000),
    // `-q -x` (or `-q`), `nvlink -s` and `topo -m`, each allowed the per-call timeout.
    budgetMs: 4 * timeoutMs + 2000,
    collect: ({ signal }) => gpuSource.readDetails!(signal),
    succeeded: (r) => r.problems.length === 0,
    metrics: () => ({ update: () => {} }),
  };
}

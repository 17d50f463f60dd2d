import type { GpuReadingWithMeta } from "../parse/reading.js";
import type { Collector, CollectorContext } from "./collector.js";
import { gpuMetrics } from "./gpu-metrics.js";

/** GPUs through a GpuSource (nvidia-smi or a labelled replay). */
export function gpuCollector(c: CollectorContext): Collector<GpuReadingWithMeta> {
  const timeoutMs = c.collectorTimeoutMs ?? 10_000;
  return {
    name: "gpu",
    intervalMs: c.gpuIntervalMs ?? 10_000,
    budgetMs: timeoutMs + 2000,
    collect: () => c.gpuSource.read(c.listedIndexes()),
    succeeded: (r) => r.failure === null && r.problems.length === 0,
    failed: (err, previous) => ({
      gpus: [],
      failure: {
        kind: "timeout",
        code: "GPU_COLLECTOR_TIMEOUT",
        message: err.message,
        evidence: err.message,
      },
      problems: [],
      at: new Date().toISOString(),
      driverVersion: previous?.driverVersion ?? null,
      cudaVersion: previous?.cudaVersion ?? null,
    }),
    metrics: (registry) => gpuMetrics(registry, c.gpuSource.simulated),
  };
}

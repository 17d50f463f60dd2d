import type { AnyCollector, CollectorContext, CollectorFactory } from "./collector.js";
import { gpuCollector, gpuDetailsCollector } from "./gpu-collector.js";
import { hostCollector } from "./host.js";
import { kernelLogCollector } from "./kernel-log-collector.js";

/**
 * Every collector the agent runs: adding one (DCGM, ROCm …) is its own file and one line here.
 * At start each runs once in this order (the GPU details first, so the first reading carries them).
 */
const REGISTERED: CollectorFactory[] = [gpuDetailsCollector, gpuCollector, hostCollector, kernelLogCollector];

export function createCollectors(context: CollectorContext): AnyCollector[] {
  return REGISTERED.map((make) => make(context)).filter((c): c is AnyCollector => c !== null);
}

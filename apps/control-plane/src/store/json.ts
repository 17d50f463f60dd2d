import type { GpuSample, HostSample } from "@podkit/core";

/** JSON values are kept as text columns; a value that cannot be read is shown as the fallback. */
export function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

/** What is kept of the latest report: the values the API and dashboard show, not the whole payload. */
export interface LatestTelemetry {
  host: Pick<
    HostSample,
    "at" | "cpuUtilizationRatio" | "load1" | "memoryTotalBytes" | "memoryAvailableBytes"
  >;
  gpus: Array<
    Pick<GpuSample, "index" | "temperatureCelsius" | "utilizationRatio" | "memoryUsedBytes" | "powerWatts">
  >;
}

export function compactTelemetry(host: HostSample, gpus: LatestTelemetry["gpus"]): LatestTelemetry {
  return {
    host: {
      at: host.at,
      cpuUtilizationRatio: host.cpuUtilizationRatio,
      load1: host.load1,
      memoryTotalBytes: host.memoryTotalBytes,
      memoryAvailableBytes: host.memoryAvailableBytes,
    },
    gpus: gpus.map((g) => ({
      index: g.index,
      temperatureCelsius: g.temperatureCelsius,
      utilizationRatio: g.utilizationRatio,
      memoryUsedBytes: g.memoryUsedBytes,
      powerWatts: g.powerWatts,
    })),
  };
}

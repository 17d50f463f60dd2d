import type { HostSample } from "@podkit/core";
import type { HealthReport } from "./health.js";
import type { GpuReadingWithMeta } from "./parse/reading.js";
import type { HostState } from "./report/connection.js";
import type { AgentStatus } from "./status.js";

export interface StatusParts {
  startedAt: string;
  metricsUrl: string;
  gpuSource: { simulated: boolean; description: string };
  gpu: GpuReadingWithMeta | null;
  host: HostSample | null;
  health: HealthReport | null;
  listedGpuCount: number | null;
  hostId: string | null;
  hostState: HostState | null;
  controlPlane: AgentStatus["controlPlane"];
}

/** What `podkit agent status` shows, from the latest readings. A GPU not yet evaluated reads degraded. */
export function buildAgentStatus(p: StatusParts): AgentStatus {
  const unknown = { state: "degraded" as const, reasons: [], at: p.startedAt };
  return {
    pid: process.pid,
    startedAt: p.startedAt,
    updatedAt: new Date().toISOString(),
    metricsUrl: p.metricsUrl,
    gpuSource: p.gpuSource,
    machine: {
      hostname: p.host?.hostname ?? "",
      driverVersion: p.gpu?.driverVersion ?? null,
      cudaVersion: p.gpu?.cudaVersion ?? null,
      health: p.health?.machine ?? unknown,
    },
    gpus: (p.gpu?.gpus ?? []).map((g) => ({
      ...g,
      health: p.health?.gpus.find((h) => h.index === g.index)?.verdict ?? unknown,
      nvlinkActiveLinks: p.gpu?.extras?.nvlink[g.index]?.activeLinks ?? null,
      migDevices: p.gpu?.extras?.migInstances[g.pciBusId] ?? null,
    })),
    ...(p.gpu
      ? {
          gpuReading: {
            at: p.gpu.at,
            stale: p.gpu.stale !== undefined,
            staleReason: p.gpu.stale?.reason ?? null,
          },
        }
      : {}),
    topology: p.gpu?.extras?.topology ?? null,
    listedGpuCount: p.listedGpuCount,
    hostId: p.hostState?.hostId ?? p.hostId,
    rented: p.hostState?.rented ?? null,
    listing: p.hostState?.listing ?? null,
    maintenanceWindows: p.hostState?.maintenanceWindows ?? [],
    controlPlane: p.controlPlane,
  };
}

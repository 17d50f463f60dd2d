import type { GpuSample, HealthVerdict, Listing, MaintenanceWindow } from "@podkit/core";
import type { TopologyMatrix } from "./parse/topo.js";
import type { ConnectionStatus } from "./report/connection.js";

/** What `podkit agent status` shows; the running agent writes it to `STATE_DIR/status.json` every cycle. */
export interface AgentStatus {
  pid: number;
  startedAt: string;
  updatedAt: string;
  metricsUrl: string;
  gpuSource: { simulated: boolean; description: string };
  machine: {
    hostname: string;
    driverVersion: string | null;
    cudaVersion: string | null;
    health: HealthVerdict;
  };
  gpus: Array<
    GpuSample & { health: HealthVerdict; nvlinkActiveLinks: number | null; migDevices: number | null }
  >;
  /** When the GPU values were read; `stale` when newer runs did not finish in time. */
  gpuReading?: { at: string; stale: boolean; staleReason: string | null };
  /** `nvidia-smi topo -m`, when it could be read. */
  topology: TopologyMatrix | null;
  listedGpuCount: number | null;
  hostId: string | null;
  rented: boolean | null;
  listing: Listing | null;
  maintenanceWindows: MaintenanceWindow[];
  controlPlane: (ConnectionStatus & { url: string; outboxMessages: number }) | null;
}

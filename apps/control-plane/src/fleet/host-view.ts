import type {
  HealthReason,
  HealthState,
  HealthVerdict,
  ListingState,
  MachineInfo,
  MaintenanceWindow,
} from "@podkit/core";
import { isOnline } from "../rules/evaluate.js";
import { type LatestTelemetry, parseJson } from "../store/json.js";
import type { HostsTable } from "../store/schema.js";

/** One GPU as the API shows it: what the agent registered, plus its latest sample and verdict. */
export interface GpuView {
  index: number;
  uuid: string;
  name: string;
  gpuTypeId: string | null;
  pciBusId: string;
  memoryTotalBytes: number | null;
  health: HealthState | null;
  temperatureCelsius: number | null;
  utilizationRatio: number | null;
  memoryUsedBytes: number | null;
  powerWatts: number | null;
}

/** A host in `GET /api/v1/hosts` and `podkit hosts list --json` (a contract scripts rely on). */
export interface HostView {
  id: string;
  hostname: string;
  gpus: GpuView[];
  /** False when the agent could not read the GPUs: `gpus` is then empty because they are unknown. */
  gpusKnown: boolean;
  /** The machine's health state, or null before its first health report. */
  health: HealthState | null;
  healthReasons: HealthReason[];
  /** `listed`, `unlisted` or `removed` (reliability below 98%). */
  listing: ListingState;
  listingReasons: string[];
  listingSince: string;
  /** Ratio in [0, 1] over the last 30 days. */
  reliability: number;
  online: boolean;
  /**
   * The agent's WebSocket as the replica that held it last saw it: `connected`, `closed`, or
   * `lost` (it stopped answering pings: a half-open link, dropped by the control plane); null
   * before the first connection.
   */
  link: { state: "connected" | "closed" | "lost"; since: string } | null;
  lastSeenAt: string | null;
  enrolledAt: string;
  rented: boolean;
  renter: string | null;
  maintenance: { next: MaintenanceWindow | null; shareLast30Days: number; excessive: boolean };
  machine: Pick<
    MachineInfo,
    | "os"
    | "kernel"
    | "cpuModel"
    | "cpuCount"
    | "memoryTotalBytes"
    | "driverVersion"
    | "cudaVersion"
    | "simulated"
  >;
}

export interface Rental {
  id: string;
  hostId: string;
  renter: string;
  startedAt: string;
  endedAt: string | null;
}

export interface FleetEvent {
  id: string;
  hostId: string | null;
  at: string;
  kind: string;
  message: string;
  data: unknown;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface HostViewExtras {
  now: number;
  offlineAfterMs: number;
  rental: { renter: string } | null;
  nextWindow: MaintenanceWindow | null;
  maintenanceShare: number;
  excessiveMaintenance: boolean;
  /** Already parsed `machine` and `gpu_health` columns, when the caller keeps them (never mutated here). */
  machine?: MachineInfo;
  gpuHealth?: Array<{ index: number; verdict: HealthVerdict }>;
}

/** What is shown for a host whose stored machine description cannot be read. */
export function unknownMachine(hostname: string): MachineInfo {
  return {
    hostname,
    cpuCount: 1,
    memoryTotalBytes: 0,
    driverVersion: null,
    cudaVersion: null,
    gpus: [],
    simulated: false,
  };
}

export function toHostView(row: HostsTable, extras: HostViewExtras): HostView {
  const machine = extras.machine ?? parseJson<MachineInfo>(row.machine, unknownMachine(row.hostname));
  const gpuHealth =
    extras.gpuHealth ?? parseJson<Array<{ index: number; verdict: HealthVerdict }>>(row.gpu_health, []);
  const telemetry = parseJson<LatestTelemetry | null>(row.telemetry, null);
  const health = parseJson<HealthVerdict | null>(row.health, null);
  const gpus: GpuView[] = machine.gpus.map((gpu) => {
    const sample = telemetry?.gpus.find((s) => s.index === gpu.index);
    return {
      index: gpu.index,
      uuid: gpu.uuid,
      name: gpu.name,
      gpuTypeId: gpu.gpuTypeId,
      pciBusId: gpu.pciBusId,
      memoryTotalBytes: gpu.memoryTotalBytes,
      health: gpuHealth.find((g) => g.index === gpu.index)?.verdict.state ?? null,
      temperatureCelsius: sample?.temperatureCelsius ?? null,
      utilizationRatio: sample?.utilizationRatio ?? null,
      memoryUsedBytes: sample?.memoryUsedBytes ?? null,
      powerWatts: sample?.powerWatts ?? null,
    };
  });
  return {
    id: row.id,
    hostname: row.hostname,
    gpus,
    gpusKnown: machine.gpusKnown !== false,
    health: (row.health_state as HealthState | null) ?? null,
    healthReasons: health?.reasons ?? [],
    listing: row.listing_state as ListingState,
    listingReasons: parseJson<string[]>(row.listing_reasons, []),
    listingSince: new Date(row.listing_since).toISOString(),
    reliability: row.reliability,
    online: isOnline(row.last_seen_at, extras.now, extras.offlineAfterMs),
    link:
      row.link_state && row.link_since !== null
        ? {
            state: row.link_state as "connected" | "closed" | "lost",
            since: new Date(row.link_since).toISOString(),
          }
        : null,
    lastSeenAt: iso(row.last_seen_at),
    enrolledAt: new Date(row.enrolled_at).toISOString(),
    rented: extras.rental !== null,
    renter: extras.rental?.renter ?? null,
    maintenance: {
      next: extras.nextWindow,
      shareLast30Days: extras.maintenanceShare,
      excessive: extras.excessiveMaintenance,
    },
    machine: {
      os: machine.os,
      kernel: machine.kernel,
      cpuModel: machine.cpuModel,
      cpuCount: machine.cpuCount,
      memoryTotalBytes: machine.memoryTotalBytes,
      driverVersion: machine.driverVersion,
      cudaVersion: machine.cudaVersion,
      simulated: machine.simulated,
    },
  };
}

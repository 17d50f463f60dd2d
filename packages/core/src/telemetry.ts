import { z } from "zod";

const isoTime = z.string().datetime({ offset: true });

export const HealthStateSchema = z.enum([
  "healthy",
  "degraded",
  "reset-required",
  "reboot-required",
  "failed",
]);
export type HealthState = z.infer<typeof HealthStateSchema>;

/** Worst-first order, so a machine's state is the worst of its parts. */
export const HEALTH_SEVERITY: Record<HealthState, number> = {
  healthy: 0,
  degraded: 1,
  "reset-required": 2,
  "reboot-required": 3,
  failed: 4,
};

export function worstHealth(states: Iterable<HealthState>): HealthState {
  let worst: HealthState = "healthy";
  for (const s of states) if (HEALTH_SEVERITY[s] > HEALTH_SEVERITY[worst]) worst = s;
  return worst;
}

/** Why a GPU or machine is not healthy. Codes are stable; `evidence` is the raw line or value that shows it. */
export const HealthReasonSchema = z.object({
  code: z.string().regex(/^[A-Z][A-Z0-9_]*$/, "reason codes are UPPER_SNAKE_CASE"),
  message: z.string(),
  state: HealthStateSchema,
  evidence: z.string().optional(),
  since: isoTime,
  /** What makes the reason go away (e.g. "GPU reset", "reboot", "10 minutes without a new XID 79"). */
  clearsWhen: z.string().optional(),
  gpuIndex: z.number().int().nonnegative().optional(),
});
export type HealthReason = z.infer<typeof HealthReasonSchema>;

export const HealthVerdictSchema = z.object({
  state: HealthStateSchema,
  reasons: z.array(HealthReasonSchema),
  at: isoTime,
});
export type HealthVerdict = z.infer<typeof HealthVerdictSchema>;

/** A value nvidia-smi could not give (`[N/A]`, `[Not Supported]`, `ERR!`) is null, never a made-up 0. */
const maybe = z.number().nullable();

export const GpuSampleSchema = z.object({
  index: z.number().int().nonnegative(),
  uuid: z.string().min(1),
  name: z.string(),
  pciBusId: z.string(),
  serial: z.string().nullable().optional(),
  temperatureCelsius: maybe,
  memoryTemperatureCelsius: maybe.optional(),
  utilizationRatio: maybe,
  memoryUtilizationRatio: maybe.optional(),
  memoryUsedBytes: maybe,
  memoryTotalBytes: maybe,
  powerWatts: maybe,
  powerLimitWatts: maybe.optional(),
  smClockHz: maybe.optional(),
  memClockHz: maybe.optional(),
  fanRatio: maybe.optional(),
  eccVolatileUncorrected: maybe.optional(),
  eccAggregateUncorrected: maybe.optional(),
  /** Corrected (single-bit) ECC errors since the last driver load, and over the GPU's life. */
  eccVolatileCorrected: maybe.optional(),
  eccAggregateCorrected: maybe.optional(),
  /** HBM rows remapped after correctable / uncorrectable errors (counts). */
  remappedRowsCorrectable: maybe.optional(),
  remappedRowsUncorrectable: maybe.optional(),
  /** PCIe replays since the last GPU reset (link-level retransmissions). */
  pcieReplays: maybe.optional(),
  /** Fraction of time the video encoder / decoder was busy (0-1). */
  encoderUtilizationRatio: maybe.optional(),
  decoderUtilizationRatio: maybe.optional(),
  retiredPagesPending: z.boolean().nullable().optional(),
  remappedRowsPending: z.boolean().nullable().optional(),
  remappedRowsFailure: z.boolean().nullable().optional(),
  pstate: z.string().nullable().optional(),
  migMode: z.string().nullable().optional(),
  /** PCIe link generation and width: what the link runs at now and the most it can run at. */
  pcieLinkGenCurrent: maybe.optional(),
  pcieLinkGenMax: maybe.optional(),
  pcieLinkWidthCurrent: maybe.optional(),
  pcieLinkWidthMax: maybe.optional(),
  /**
   * Why clocks are held below their maximum (nvidia-smi "Clocks Event Reasons", formerly
   * "Clocks Throttle Reasons"): reason (`gpu_idle`, `sw_power_cap`, `hw_slowdown`,
   * `hw_thermal_slowdown`, `hw_power_brake_slowdown`, `sw_thermal_slowdown`, `sync_boost`,
   * `applications_clocks_setting`, `display_clock_setting`) → active. Only reasons the GPU reports.
   */
  clocksEventReasons: z.record(z.string(), z.boolean()).nullable().optional(),
  /** This GPU's own limits (°C): above max-operating it is out of spec, slowdown cuts clocks, shutdown powers off. */
  temperatureMaxOperatingCelsius: maybe.optional(),
  temperatureSlowdownCelsius: maybe.optional(),
  temperatureShutdownCelsius: maybe.optional(),
  /** "T.Limit": degrees left below the max-operating limit (negative: above it). */
  temperatureLimitMarginCelsius: maybe.optional(),
  health: HealthVerdictSchema.optional(),
});
export type GpuSample = z.infer<typeof GpuSampleSchema>;

export const DiskSampleSchema = z.object({
  mount: z.string(),
  totalBytes: z.number().nonnegative(),
  usedBytes: z.number().nonnegative(),
});

export const HostSampleSchema = z.object({
  at: isoTime,
  hostname: z.string(),
  cpuCount: z.number().int().positive(),
  cpuUtilizationRatio: maybe,
  load1: maybe,
  memoryTotalBytes: z.number().nonnegative(),
  memoryAvailableBytes: z.number().nonnegative(),
  disks: z.array(DiskSampleSchema),
  networkRxBytes: maybe.optional(),
  networkTxBytes: maybe.optional(),
  uptimeSeconds: maybe.optional(),
});
export type HostSample = z.infer<typeof HostSampleSchema>;

/** What a host is listed with at registration: the facts renters rent. */
export const MachineInfoSchema = z.object({
  hostname: z.string(),
  os: z.string().optional(),
  kernel: z.string().optional(),
  cpuModel: z.string().optional(),
  cpuCount: z.number().int().positive(),
  memoryTotalBytes: z.number().nonnegative(),
  driverVersion: z.string().nullable(),
  cudaVersion: z.string().nullable(),
  gpus: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      uuid: z.string(),
      name: z.string(),
      pciBusId: z.string(),
      memoryTotalBytes: z.number().nullable(),
      /** Catalog GPU ID when the card is known. */
      gpuTypeId: z.string().nullable(),
    }),
  ),
  /**
   * False when the agent could not read its GPUs (driver/library mismatch, nvidia-smi hung): `gpus`
   * is then empty because they are unknown, not because there are none. Absent means known.
   */
  gpusKnown: z.boolean().optional(),
  /** True when the GPU source replays a recorded capture instead of real hardware. */
  simulated: z.boolean().default(false),
  simulatedSource: z.string().optional(),
});
export type MachineInfo = z.infer<typeof MachineInfoSchema>;

export const XidEventSchema = z.object({
  at: isoTime,
  xid: z.number().int().nonnegative(),
  /** SXid (NVSwitch) errors are reported separately from GPU XIDs. */
  kind: z.enum(["xid", "sxid"]).default("xid"),
  pciBusId: z.string().nullable(),
  gpuIndex: z.number().int().nonnegative().nullable(),
  pid: z.number().int().nullable().optional(),
  processName: z.string().nullable().optional(),
  migInstance: z.string().nullable().optional(),
  action: z.enum(["none", "restart-app", "reset-gpu", "reboot", "rma", "unknown"]),
  description: z.string().optional(),
  raw: z.string(),
});
export type XidEvent = z.infer<typeof XidEventSchema>;

import type { GpuSample } from "@podkit/core";
import { Counter, Gauge, type Registry } from "prom-client";
import { OptionalSeries } from "../optional-series.js";
import type { GpuExtras, GpuReadingWithMeta } from "../parse/reading.js";
import type { MetricSink } from "./collector.js";
import { EnergyIntegrator } from "./gpu-energy.js";

type GpuNumberField = Exclude<
  {
    [K in keyof GpuSample]-?: GpuSample[K] extends number | null | undefined ? K : never;
  }[keyof GpuSample],
  undefined
>;

/** GpuSample field → metric (base units, Prometheus naming). */
const GPU_GAUGES: Array<[GpuNumberField, string, string]> = [
  ["temperatureCelsius", "podkit_gpu_temperature_celsius", "GPU core temperature."],
  ["memoryTemperatureCelsius", "podkit_gpu_memory_temperature_celsius", "GPU memory (HBM) temperature."],
  ["utilizationRatio", "podkit_gpu_utilization_ratio", "Fraction of time a kernel was running (0-1)."],
  [
    "memoryUtilizationRatio",
    "podkit_gpu_memory_utilization_ratio",
    "Fraction of time memory was read or written (0-1).",
  ],
  ["memoryUsedBytes", "podkit_gpu_memory_used_bytes", "Framebuffer memory in use."],
  ["memoryTotalBytes", "podkit_gpu_memory_total_bytes", "Framebuffer memory size."],
  ["powerWatts", "podkit_gpu_power_watts", "Power draw."],
  ["powerLimitWatts", "podkit_gpu_power_limit_watts", "Enforced power limit."],
  ["smClockHz", "podkit_gpu_sm_clock_hertz", "SM clock."],
  ["memClockHz", "podkit_gpu_memory_clock_hertz", "Memory clock."],
  ["fanRatio", "podkit_gpu_fan_ratio", "Fan speed as a fraction of maximum (0-1)."],
  [
    "eccVolatileUncorrected",
    "podkit_gpu_ecc_uncorrected_volatile_errors",
    "Uncorrected ECC errors since the last GPU reset.",
  ],
  [
    "eccVolatileCorrected",
    "podkit_gpu_ecc_corrected_volatile_errors",
    "Corrected (single-bit) ECC errors since the last driver load.",
  ],
  [
    "eccAggregateCorrected",
    "podkit_gpu_ecc_corrected_aggregate_errors",
    "Corrected (single-bit) ECC errors over the GPU's life.",
  ],
  [
    "remappedRowsCorrectable",
    "podkit_gpu_remapped_rows_correctable",
    "HBM rows remapped after correctable errors.",
  ],
  [
    "remappedRowsUncorrectable",
    "podkit_gpu_remapped_rows_uncorrectable",
    "HBM rows remapped after an uncorrectable error.",
  ],
  [
    "encoderUtilizationRatio",
    "podkit_gpu_encoder_utilization_ratio",
    "Fraction of time the video encoder was busy (0-1).",
  ],
  [
    "decoderUtilizationRatio",
    "podkit_gpu_decoder_utilization_ratio",
    "Fraction of time the video decoder was busy (0-1).",
  ],
  [
    "eccAggregateUncorrected",
    "podkit_gpu_ecc_uncorrected_aggregate_errors",
    "Uncorrected ECC errors over the GPU's life.",
  ],
  ["pcieLinkGenCurrent", "podkit_gpu_pcie_link_generation", "PCIe link generation the link runs at now."],
  [
    "pcieLinkGenMax",
    "podkit_gpu_pcie_link_max_generation",
    "Highest PCIe link generation the GPU and this system support.",
  ],
  ["pcieLinkWidthCurrent", "podkit_gpu_pcie_link_width_lanes", "PCIe lanes the link runs with now."],
  ["pcieLinkWidthMax", "podkit_gpu_pcie_link_max_width_lanes", "Most PCIe lanes the link can run with."],
  [
    "temperatureMaxOperatingCelsius",
    "podkit_gpu_temperature_max_operating_celsius",
    "The GPU's own max operating temperature (above it: degraded).",
  ],
  [
    "temperatureSlowdownCelsius",
    "podkit_gpu_temperature_slowdown_celsius",
    "Temperature at which the GPU cuts its clocks.",
  ],
  [
    "temperatureShutdownCelsius",
    "podkit_gpu_temperature_shutdown_celsius",
    "Temperature at which the GPU shuts down.",
  ],
  [
    "temperatureLimitMarginCelsius",
    "podkit_gpu_temperature_limit_margin_celsius",
    "T.Limit: degrees left below the max operating temperature (negative: above it).",
  ],
];

const GPU_LABELS = ["gpu", "uuid"] as const;

/**
 * The GPU collector's metrics: one gauge per GpuSample number, flags, clocks event reasons,
 * identity (`simulated` when replayed from a capture), NVLink and MIG. A value nvidia-smi could not give has no series (never a 0).
 */
// Long: one gauge declaration per metric, flat; splitting adds indirection, not clarity.
export function gpuMetrics(registry: Registry, isSimulated: boolean): MetricSink<GpuReadingWithMeta> {
  // Long on purpose: it declares every metric this collector owns, side by side; the per-cycle work
  // is in updateSamples and updateExtras below.
  const registers = [registry];
  const gauge = (name: string, help: string, labelNames: readonly string[] = GPU_LABELS) =>
    new Gauge({ name, help, labelNames, registers });
  const perField = GPU_GAUGES.map(([field, name, help]) => [field, gauge(name, help)] as const);
  const info = gauge("podkit_gpu_info", "GPU identity; always 1.", [
    "gpu",
    "uuid",
    "pci_bus_id",
    "name",
    "driver_version",
    "cuda_version",
    "simulated",
  ]);
  const flags = {
    remapPending: gauge("podkit_gpu_remapped_rows_pending", "1 when a row remap waits for a GPU reset."),
    remapFailure: gauge("podkit_gpu_remapped_rows_failure", "1 when row remapping has failed (RMA)."),
    retiredPending: gauge(
      "podkit_gpu_retired_pages_pending",
      "1 when a page retirement waits for a GPU reset.",
    ),
  };
  const clocksEventReason = gauge(
    "podkit_gpu_clocks_event_reason_active",
    "1 while the reason holds clocks below maximum (nvidia-smi clocks event / throttle reasons); only reasons the GPU reports.",
    ["gpu", "uuid", "reason"],
  );
  const optional = (name: string, help: string) => new OptionalSeries(registry, { name, help });
  const performanceState = gauge(
    "podkit_gpu_performance_state",
    "Performance state: 0 for P0 (maximum performance) up to 15 (P15, minimum).",
  );
  const pcieReplays = new Counter({
    name: "podkit_gpu_pcie_replays_total",
    help: "PCIe replays (link-level retransmissions) since the last GPU reset.",
    labelNames: GPU_LABELS,
    registers,
  });
  const energy = new Counter({
    name: "podkit_gpu_energy_joules_total",
    help: "Energy the GPU used since the agent started: its power draw integrated over the agent's readings (nvidia-smi has no energy counter).",
    labelNames: GPU_LABELS,
    registers,
  });
  const energyIntegrator = new EnergyIntegrator();
  const present = optional("podkit_gpus_present", "GPUs nvidia-smi reported this cycle.");
  const simulated = gauge(
    "podkit_agent_simulated_gpus",
    "1 when GPU data is replayed from a recorded capture, not read from hardware.",
    [],
  );
  const nvlinkActive = gauge("podkit_gpu_nvlink_active_links", "NVLink links up (nvidia-smi nvlink -s).");
  const nvlinkSpeed = gauge("podkit_gpu_nvlink_link_speed_bytes_per_second", "Speed of each NVLink link.", [
    "gpu",
    "uuid",
    "link",
  ]);
  const migInstances = gauge("podkit_gpu_mig_devices", "MIG devices configured on the GPU.");
  const stale = optional(
    "podkit_gpu_reading_stale",
    "1 while the GPU values are the last complete reading, kept because newer runs did not finish in time.",
  );
  const readingTime = optional(
    "podkit_gpu_reading_timestamp_seconds",
    "When the GPU values shown were read (stale readings keep their time).",
  );

  const updateSamples = (reading: GpuReadingWithMeta) => {
    for (const [, g] of perField) g.reset();
    info.reset();
    for (const g of Object.values(flags)) g.reset();
    clocksEventReason.reset();
    performanceState.reset();
    pcieReplays.reset();
    for (const s of reading.gpus) {
      const labels = { gpu: String(s.index), uuid: s.uuid };
      for (const [field, g] of perField) {
        const v = s[field];
        if (typeof v === "number") g.set(labels, v);
      }
      const flag = (g: Gauge, v: boolean | null | undefined) => {
        if (typeof v === "boolean") g.set(labels, v ? 1 : 0);
      };
      flag(flags.remapPending, s.remappedRowsPending);
      flag(flags.remapFailure, s.remappedRowsFailure);
      flag(flags.retiredPending, s.retiredPagesPending);
      const pstate = /^P(\d+)$/.exec(s.pstate ?? "");
      if (pstate) performanceState.set(labels, Number(pstate[1]));
      if (typeof s.pcieReplays === "number") pcieReplays.inc(labels, s.pcieReplays);
      // A stale reading is the same power at the same time again: it adds nothing.
      if (typeof s.powerWatts === "number" && !reading.stale)
        energy.inc(labels, energyIntegrator.add(s.uuid, Date.parse(reading.at), s.powerWatts));
      for (const [reason, active] of Object.entries(s.clocksEventReasons ?? {}))
        clocksEventReason.set({ ...labels, reason }, active ? 1 : 0);
      info.set(
        {
          ...labels,
          pci_bus_id: s.pciBusId,
          name: s.name,
          driver_version: reading.driverVersion ?? "",
          cuda_version: reading.cudaVersion ?? "",
          simulated: isSimulated ? "true" : "false",
        },
        1,
      );
    }
    present.set(reading.gpus.length);
    simulated.set(isSimulated ? 1 : 0);
  };

  const updateExtras = (gpus: GpuSample[], extras: GpuExtras | undefined) => {
    nvlinkActive.reset();
    nvlinkSpeed.reset();
    migInstances.reset();
    if (!extras) return;
    for (const g of gpus) {
      const labels = { gpu: String(g.index), uuid: g.uuid };
      const link = extras.nvlink[g.index];
      if (link) {
        nvlinkActive.set(labels, link.activeLinks);
        link.linkSpeedsBytesPerSecond.forEach((speed, i) => {
          if (speed !== null) nvlinkSpeed.set({ ...labels, link: String(i) }, speed);
        });
      }
      const mig = extras.migInstances[g.pciBusId];
      if (mig !== undefined) migInstances.set(labels, mig);
    }
  };

  return {
    update(reading) {
      stale.set(reading.stale ? 1 : 0);
      readingTime.set(Date.parse(reading.at) / 1000);
      updateSamples(reading);
      updateExtras(reading.gpus, reading.extras);
    },
  };
}

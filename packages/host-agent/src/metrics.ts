import type { GpuSample, HealthState, HostSample, XidEvent } from "@podkit/core";
import { Counter, Gauge, Registry } from "prom-client";
import type { HealthReport } from "./health.js";
import type { GpuExtras } from "./parse/reading.js";

const STATES: HealthState[] = ["healthy", "degraded", "reset-required", "reboot-required", "failed"];

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

/**
 * The agent's Prometheus registry. No prom-client default metrics: their names fail
 * `promtool check metrics`. A value nvidia-smi could not give has no series (never a 0).
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly gpuGauges = new Map<string, Gauge>();
  private readonly gpuInfo: Gauge;
  private readonly gpuBool: Record<"remapPending" | "remapFailure" | "retiredPending", Gauge>;
  private readonly clocksEventReason: Gauge;
  private readonly xidTotal: Counter;
  private readonly xidLast: Gauge;
  private readonly sxidTotal: Counter;
  private readonly gpuHealth: Gauge;
  private readonly machineHealth: Gauge;
  private readonly gpusExpected: Gauge;
  private readonly gpusPresent: Gauge;
  private readonly host: Record<string, Gauge>;
  private readonly nvlinkActive: Gauge;
  private readonly nvlinkSpeed: Gauge;
  private readonly migInstances: Gauge;
  readonly collectorSuccess: Gauge;
  readonly collectorDuration: Gauge;
  readonly collectorLastSuccess: Gauge;
  readonly connected: Gauge;
  readonly lastHeartbeat: Gauge;
  readonly lastAck: Gauge;
  readonly outboxPending: Gauge;
  readonly reconnects: Gauge;
  readonly outboxRejected: Counter;
  readonly simulated: Gauge;

  constructor() {
    const r = [this.registry];
    const gpuLabels = ["gpu", "uuid"] as const;
    for (const [, name, help] of GPU_GAUGES) {
      this.gpuGauges.set(name, new Gauge({ name, help, labelNames: gpuLabels, registers: r }));
    }
    this.gpuInfo = new Gauge({
      name: "podkit_gpu_info",
      help: "GPU identity; always 1.",
      labelNames: ["gpu", "uuid", "pci_bus_id", "name", "driver_version", "cuda_version", "simulated"],
      registers: r,
    });
    this.gpuBool = {
      remapPending: new Gauge({
        name: "podkit_gpu_remapped_rows_pending",
        help: "1 when a row remap waits for a GPU reset.",
        labelNames: gpuLabels,
        registers: r,
      }),
      remapFailure: new Gauge({
        name: "podkit_gpu_remapped_rows_failure",
        help: "1 when row remapping has failed (RMA).",
        labelNames: gpuLabels,
        registers: r,
      }),
      retiredPending: new Gauge({
        name: "podkit_gpu_retired_pages_pending",
        help: "1 when a page retirement waits for a GPU reset.",
        labelNames: gpuLabels,
        registers: r,
      }),
    };
    this.clocksEventReason = new Gauge({
      name: "podkit_gpu_clocks_event_reason_active",
      help: "1 while the reason holds clocks below maximum (nvidia-smi clocks event / throttle reasons); only reasons the GPU reports.",
      labelNames: ["gpu", "uuid", "reason"],
      registers: r,
    });
    this.xidTotal = new Counter({
      name: "podkit_gpu_xid_errors_total",
      help: "NVRM Xid errors seen in the kernel log.",
      labelNames: ["gpu", "pci_bus_id", "xid", "action"],
      registers: r,
    });
    this.xidLast = new Gauge({
      name: "podkit_gpu_xid_last_timestamp_seconds",
      help: "When an Xid was last seen.",
      labelNames: ["gpu", "pci_bus_id", "xid"],
      registers: r,
    });
    this.sxidTotal = new Counter({
      name: "podkit_nvswitch_sxid_errors_total",
      help: "NVSwitch SXid errors seen in the kernel log.",
      labelNames: ["pci_bus_id", "sxid"],
      registers: r,
    });
    this.gpuHealth = new Gauge({
      name: "podkit_gpu_health_state",
      help: "1 for the GPU's current health state.",
      labelNames: ["gpu", "uuid", "state"],
      registers: r,
    });
    this.machineHealth = new Gauge({
      name: "podkit_machine_health_state",
      help: "1 for the machine's current health state.",
      labelNames: ["state"],
      registers: r,
    });
    this.gpusExpected = new Gauge({
      name: "podkit_gpus_expected",
      help: "GPUs the machine was listed with.",
      registers: r,
    });
    this.gpusPresent = new Gauge({
      name: "podkit_gpus_present",
      help: "GPUs nvidia-smi reported this cycle.",
      registers: r,
    });
    const hostGauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: r });
    this.host = {
      cpu: hostGauge(
        "podkit_host_cpu_utilization_ratio",
        "Busy fraction of all CPUs since the previous sample.",
      ),
      load1: hostGauge("podkit_host_load1", "1-minute load average."),
      memTotal: hostGauge("podkit_host_memory_total_bytes", "Physical memory."),
      memAvail: hostGauge("podkit_host_memory_available_bytes", "Memory available for new work."),
      diskTotal: hostGauge("podkit_host_disk_total_bytes", "File system size.", ["mount"]),
      diskUsed: hostGauge("podkit_host_disk_used_bytes", "File system space used.", ["mount"]),
      rx: hostGauge(
        "podkit_host_network_receive_bytes",
        "Bytes received on all non-loopback interfaces since boot.",
      ),
      tx: hostGauge(
        "podkit_host_network_transmit_bytes",
        "Bytes sent on all non-loopback interfaces since boot.",
      ),
    };
    this.nvlinkActive = new Gauge({
      name: "podkit_gpu_nvlink_active_links",
      help: "NVLink links up (nvidia-smi nvlink -s).",
      labelNames: gpuLabels,
      registers: r,
    });
    this.nvlinkSpeed = new Gauge({
      name: "podkit_gpu_nvlink_link_speed_bytes_per_second",
      help: "Speed of each NVLink link.",
      labelNames: ["gpu", "uuid", "link"],
      registers: r,
    });
    this.migInstances = new Gauge({
      name: "podkit_gpu_mig_devices",
      help: "MIG devices configured on the GPU.",
      labelNames: gpuLabels,
      registers: r,
    });
    this.collectorSuccess = new Gauge({
      name: "podkit_agent_collector_success",
      help: "1 if the collector's last run succeeded.",
      labelNames: ["collector"],
      registers: r,
    });
    this.collectorDuration = new Gauge({
      name: "podkit_agent_collector_duration_seconds",
      help: "Duration of the collector's last run.",
      labelNames: ["collector"],
      registers: r,
    });
    this.collectorLastSuccess = new Gauge({
      name: "podkit_agent_collector_last_success_timestamp_seconds",
      help: "When the collector last succeeded.",
      labelNames: ["collector"],
      registers: r,
    });
    this.connected = new Gauge({
      name: "podkit_agent_control_plane_connected",
      help: "1 while the WebSocket to the control plane is open.",
      registers: r,
    });
    this.lastHeartbeat = new Gauge({
      name: "podkit_agent_control_plane_last_heartbeat_timestamp_seconds",
      help: "When the last heartbeat was sent.",
      registers: r,
    });
    this.lastAck = new Gauge({
      name: "podkit_agent_control_plane_last_ack_timestamp_seconds",
      help: "When the control plane last acknowledged a report.",
      registers: r,
    });
    this.outboxPending = new Gauge({
      name: "podkit_agent_outbox_messages",
      help: "Reports waiting in the durable outbox for an acknowledgement.",
      registers: r,
    });
    this.outboxRejected = new Counter({
      name: "podkit_agent_outbox_rejected_total",
      help: "Messages the control plane can never accept (schema, authorisation), set aside in outbox/rejected.",
      registers: r,
    });
    this.reconnects = new Gauge({
      name: "podkit_agent_control_plane_reconnects",
      help: "Reconnect attempts since the agent started.",
      registers: r,
    });
    this.simulated = new Gauge({
      name: "podkit_agent_simulated_gpus",
      help: "1 when GPU data is replayed from a recorded capture, not read from hardware.",
      registers: r,
    });
  }

  updateGpus(
    gpus: GpuSample[],
    meta: { driverVersion: string | null; cudaVersion: string | null; simulated: boolean },
  ): void {
    for (const g of this.gpuGauges.values()) g.reset();
    this.gpuInfo.reset();
    for (const g of Object.values(this.gpuBool)) g.reset();
    this.clocksEventReason.reset();
    for (const s of gpus) {
      const labels = { gpu: String(s.index), uuid: s.uuid };
      for (const [field, name] of GPU_GAUGES) {
        const v = s[field];
        if (typeof v === "number") this.gpuGauges.get(name)!.set(labels, v);
      }
      const flag = (g: Gauge, v: boolean | null | undefined) => {
        if (typeof v === "boolean") g.set(labels, v ? 1 : 0);
      };
      flag(this.gpuBool.remapPending, s.remappedRowsPending);
      flag(this.gpuBool.remapFailure, s.remappedRowsFailure);
      flag(this.gpuBool.retiredPending, s.retiredPagesPending);
      for (const [reason, active] of Object.entries(s.clocksEventReasons ?? {}))
        this.clocksEventReason.set({ ...labels, reason }, active ? 1 : 0);
      this.gpuInfo.set(
        {
          ...labels,
          pci_bus_id: s.pciBusId,
          name: s.name,
          driver_version: meta.driverVersion ?? "",
          cuda_version: meta.cudaVersion ?? "",
          simulated: meta.simulated ? "true" : "false",
        },
        1,
      );
    }
    this.gpusPresent.set(gpus.length);
    this.simulated.set(meta.simulated ? 1 : 0);
  }

  updateExtras(gpus: GpuSample[], extras: GpuExtras | undefined): void {
    this.nvlinkActive.reset();
    this.nvlinkSpeed.reset();
    this.migInstances.reset();
    if (!extras) return;
    for (const g of gpus) {
      const labels = { gpu: String(g.index), uuid: g.uuid };
      const link = extras.nvlink[g.index];
      if (link) {
        this.nvlinkActive.set(labels, link.activeLinks);
        link.linkSpeedsBytesPerSecond.forEach((speed, i) => {
          if (speed !== null) this.nvlinkSpeed.set({ ...labels, link: String(i) }, speed);
        });
      }
      const mig = extras.migInstances[g.pciBusId];
      if (mig !== undefined) this.migInstances.set(labels, mig);
    }
  }

  updateHealth(report: HealthReport, expected: number | null): void {
    this.gpuHealth.reset();
    this.machineHealth.reset();
    for (const g of report.gpus) {
      for (const s of STATES)
        this.gpuHealth.set(
          { gpu: String(g.index), uuid: g.uuid ?? "", state: s },
          g.verdict.state === s ? 1 : 0,
        );
    }
    for (const s of STATES) this.machineHealth.set({ state: s }, report.machine.state === s ? 1 : 0);
    if (expected !== null) this.gpusExpected.set(expected);
  }

  recordXid(e: XidEvent): void {
    const bus = e.pciBusId ?? "";
    if (e.kind === "sxid") {
      this.sxidTotal.inc({ pci_bus_id: bus, sxid: String(e.xid) });
      return;
    }
    const gpu = e.gpuIndex === null ? "" : String(e.gpuIndex);
    this.xidTotal.inc({ gpu, pci_bus_id: bus, xid: String(e.xid), action: e.action });
    this.xidLast.set({ gpu, pci_bus_id: bus, xid: String(e.xid) }, Date.parse(e.at) / 1000);
  }

  updateHost(h: HostSample): void {
    const set = (g: Gauge, v: number | null | undefined) => {
      if (typeof v === "number") g.set(v);
      else g.reset();
    };
    set(this.host.cpu!, h.cpuUtilizationRatio);
    set(this.host.load1!, h.load1);
    set(this.host.memTotal!, h.memoryTotalBytes);
    set(this.host.memAvail!, h.memoryAvailableBytes);
    set(this.host.rx!, h.networkRxBytes);
    set(this.host.tx!, h.networkTxBytes);
    this.host.diskTotal!.reset();
    this.host.diskUsed!.reset();
    for (const d of h.disks) {
      this.host.diskTotal!.set({ mount: d.mount }, d.totalBytes);
      this.host.diskUsed!.set({ mount: d.mount }, d.usedBytes);
    }
  }

  recordCollector(name: string, ok: boolean, seconds: number): void {
    this.collectorSuccess.set({ collector: name }, ok ? 1 : 0);
    this.collectorDuration.set({ collector: name }, seconds);
    if (ok) this.collectorLastSuccess.set({ collector: name }, Date.now() / 1000);
  }
}

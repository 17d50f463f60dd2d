import { join } from "node:path";
import type { AgentEvent, HealthState, XidEvent } from "@podkit/core";
import { Gauge, type Registry } from "prom-client";
import type { MetricSink } from "./collectors/collector.js";
import { evaluateHealth, type HealthReport, type ListedGpu } from "./health.js";
import { OptionalSeries } from "./optional-series.js";
import type { GpuReadingWithMeta } from "./parse/reading.js";
import { stableMessageId } from "./report/ids.js";
import { readJsonFile, writeFileAtomic } from "./state-files.js";
import { XidTracker } from "./xid.js";

const LISTED_FILE = "listed-gpus.json";
const STATES: HealthState[] = ["healthy", "degraded", "reset-required", "reboot-required", "failed"];

export interface HealthMonitorOptions {
  stateDir: string;
  bootId: string;
  registry: Registry;
  /** The GPU collector's latest reading. */
  gpuReading: () => GpuReadingWithMeta | null;
  /** The machine's state or reasons changed. */
  onChange: (report: HealthReport) => void;
  /** A listed GPU went missing (reported once per GPU until it is back). */
  onGpuLost: (event: AgentEvent, id: string) => void;
}

/**
 * Health evaluation at the edge of the pure rules (`evaluateHealth`): what the machine was listed
 * with (the first complete reading, kept in the state directory), the XIDs that still count, the
 * previous verdict (so `since` holds), and the health metrics.
 */
export class HealthMonitor {
  private listedGpus: ListedGpu[] | null;
  private report: HealthReport | null = null;
  private lastKey = "";
  private readonly announcedLost = new Set<string>();
  private readonly xids = new XidTracker();
  private readonly metrics: MetricSink<{ report: HealthReport; expected: number | null }>;

  constructor(private readonly o: HealthMonitorOptions) {
    this.listedGpus = readJsonFile<ListedGpu[]>(join(o.stateDir, LISTED_FILE));
    this.metrics = healthMetrics(o.registry);
  }

  get listed(): ListedGpu[] | null {
    return this.listedGpus;
  }

  get current(): HealthReport | null {
    return this.report;
  }

  /** A new GPU reading: the first complete one is what the machine is listed with (a later loss is then visible). */
  gpuRead(reading: GpuReadingWithMeta): void {
    const complete = reading.failure === null && reading.problems.length === 0;
    if (!this.listedGpus && complete && reading.gpus.length > 0) {
      this.listedGpus = reading.gpus.map((g) => ({
        index: g.index,
        uuid: g.uuid,
        pciBusId: g.pciBusId,
        name: g.name,
      }));
      writeFileAtomic(join(this.o.stateDir, LISTED_FILE), JSON.stringify(this.listedGpus, null, 2));
    }
    this.evaluate();
  }

  /** XIDs from the kernel log. */
  xidsSeen(events: readonly XidEvent[]): void {
    if (events.length === 0) return;
    const uuids = this.uuidByBus();
    for (const xid of events) this.xids.record(xid, xid.pciBusId ? (uuids.get(xid.pciBusId) ?? null) : null);
    this.evaluate();
  }

  /** GPU index by PCI bus id: the current reading first, then the listing. */
  gpuIndexByBusId(): Map<string, number> {
    const busToIndex = new Map<string, number>();
    for (const g of this.o.gpuReading()?.gpus ?? []) busToIndex.set(g.pciBusId, g.index);
    for (const l of this.listedGpus ?? [])
      if (!busToIndex.has(l.pciBusId)) busToIndex.set(l.pciBusId, l.index);
    return busToIndex;
  }

  private uuidByBus(): Map<string, string> {
    return new Map((this.o.gpuReading()?.gpus ?? []).map((g) => [g.pciBusId, g.uuid]));
  }

  private evaluate(): void {
    const reading = this.o.gpuReading();
    if (!reading) return;
    const report = evaluateHealth({
      now: new Date(),
      listed: this.listedGpus,
      reading,
      xids: this.xids.current(new Date(), this.uuidByBus()),
      previous: this.report,
      ...(reading.extras
        ? {
            nvlinkActiveLinks: Object.fromEntries(
              Object.entries(reading.extras.nvlink).map(([i, n]) => [i, n.activeLinks]),
            ),
          }
        : {}),
    });
    this.report = report;
    this.metrics.update({ report, expected: this.listedGpus?.length ?? null });
    const key = JSON.stringify([
      report.machine.state,
      report.machine.reasons.map((r) => `${r.code}:${r.gpuIndex ?? ""}`),
    ]);
    if (key !== this.lastKey) {
      this.lastKey = key;
      this.o.onChange(report);
    }
    this.announceLost(report, reading);
  }

  private announceLost(report: HealthReport, reading: GpuReadingWithMeta): void {
    for (const r of report.machine.reasons) {
      if (r.code !== "GPU_MISSING" || r.gpuIndex === undefined) continue;
      const gone = this.listedGpus?.find((l) => l.index === r.gpuIndex);
      const lostKey = `${gone?.uuid ?? r.gpuIndex}`;
      if (this.announcedLost.has(lostKey)) continue;
      this.announcedLost.add(lostKey);
      this.o.onGpuLost(
        {
          kind: "gpu-lost",
          pciBusId: gone?.pciBusId ?? null,
          gpuIndex: r.gpuIndex,
          evidence: r.evidence ?? r.message,
        },
        stableMessageId("lost", this.o.bootId, lostKey),
      );
    }
    for (const key of [...this.announcedLost]) {
      if (reading.gpus.some((g) => g.uuid === key)) this.announcedLost.delete(key);
    }
  }
}

/** Health metrics: one 0/1 series per state, per GPU and for the machine, and the GPUs listed. */
export function healthMetrics(
  registry: Registry,
): MetricSink<{ report: HealthReport; expected: number | null }> {
  const registers = [registry];
  const gpuHealth = new Gauge({
    name: "podkit_gpu_health_state",
    help: "1 for the GPU's current health state.",
    labelNames: ["gpu", "uuid", "state"],
    registers,
  });
  const machineHealth = new Gauge({
    name: "podkit_machine_health_state",
    help: "1 for the machine's current health state.",
    labelNames: ["state"],
    registers,
  });
  const gpuReason = new Gauge({
    name: "podkit_gpu_health_reason",
    help: "1 for each reason that holds the GPU below healthy (stable codes, docs/host.md), with the state it leads to.",
    labelNames: ["gpu", "uuid", "reason", "state"],
    registers,
  });
  const machineReason = new Gauge({
    name: "podkit_machine_health_reason",
    help: "1 for each reason that holds the machine below healthy (stable codes, docs/host.md), with the state it leads to.",
    labelNames: ["reason", "state"],
    registers,
  });
  // Absent until the machine is listed (its first complete reading): unknown is not 0.
  const gpusExpected = new OptionalSeries(registry, {
    name: "podkit_gpus_expected",
    help: "GPUs the machine was listed with.",
  });
  return {
    update({ report, expected }) {
      for (const g of [gpuHealth, machineHealth, gpuReason, machineReason]) g.reset();
      for (const g of report.gpus) {
        const labels = { gpu: String(g.index), uuid: g.uuid ?? "" };
        for (const s of STATES) gpuHealth.set({ ...labels, state: s }, g.verdict.state === s ? 1 : 0);
        for (const r of g.verdict.reasons) gpuReason.set({ ...labels, reason: r.code, state: r.state }, 1);
      }
      for (const s of STATES) machineHealth.set({ state: s }, report.machine.state === s ? 1 : 0);
      for (const r of report.machine.reasons) machineReason.set({ reason: r.code, state: r.state }, 1);
      gpusExpected.set(expected);
    },
  };
}

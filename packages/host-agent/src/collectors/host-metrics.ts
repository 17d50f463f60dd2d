import type { HostSample } from "@podkit/core";
import { Gauge, type Registry } from "prom-client";
import { OptionalSeries } from "../optional-series.js";
import type { MetricSink } from "./collector.js";

/** The host collector's metrics (/proc and statfs). A value that could not be read has no series. */
export function hostMetrics(registry: Registry): MetricSink<HostSample> {
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const optional = (name: string, help: string) => new OptionalSeries(registry, { name, help });
  // The first sample has no CPU delta yet: no series rather than a 0.
  const cpu = optional(
    "podkit_host_cpu_utilization_ratio",
    "Busy fraction of all CPUs since the previous sample.",
  );
  const load1 = optional("podkit_host_load1", "1-minute load average.");
  const memTotal = optional("podkit_host_memory_total_bytes", "Physical memory.");
  const memAvail = optional("podkit_host_memory_available_bytes", "Memory available for new work.");
  const diskTotal = gauge("podkit_host_disk_total_bytes", "File system size.", ["mount"]);
  const diskUsed = gauge("podkit_host_disk_used_bytes", "File system space used.", ["mount"]);
  // Running counts since boot, read from /proc/net/dev: counters, like node_exporter's.
  const counter = (name: string, help: string) =>
    new OptionalSeries(registry, { name, help, type: "counter" });
  const rx = counter(
    "podkit_host_network_receive_bytes_total",
    "Bytes received on all non-loopback interfaces since boot.",
  );
  const tx = counter(
    "podkit_host_network_transmit_bytes_total",
    "Bytes sent on all non-loopback interfaces since boot.",
  );
  return {
    update(h) {
      cpu.set(h.cpuUtilizationRatio);
      load1.set(h.load1);
      memTotal.set(h.memoryTotalBytes);
      memAvail.set(h.memoryAvailableBytes);
      rx.set(h.networkRxBytes);
      tx.set(h.networkTxBytes);
      diskTotal.reset();
      diskUsed.reset();
      for (const d of h.disks) {
        diskTotal.set({ mount: d.mount }, d.totalBytes);
        diskUsed.set({ mount: d.mount }, d.usedBytes);
      }
    },
  };
}

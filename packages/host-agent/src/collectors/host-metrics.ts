import type { HostSample } from "@podkit/core";
import { Gauge, type Registry } from "prom-client";
import type { MetricSink } from "./collector.js";

/** The host collector's metrics (/proc and statfs). A value that could not be read has no series. */
export function hostMetrics(registry: Registry): MetricSink<HostSample> {
  const gauge = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const cpu = gauge(
    "podkit_host_cpu_utilization_ratio",
    "Busy fraction of all CPUs since the previous sample.",
  );
  const load1 = gauge("podkit_host_load1", "1-minute load average.");
  const memTotal = gauge("podkit_host_memory_total_bytes", "Physical memory.");
  const memAvail = gauge("podkit_host_memory_available_bytes", "Memory available for new work.");
  const diskTotal = gauge("podkit_host_disk_total_bytes", "File system size.", ["mount"]);
  const diskUsed = gauge("podkit_host_disk_used_bytes", "File system space used.", ["mount"]);
  const rx = gauge(
    "podkit_host_network_receive_bytes",
    "Bytes received on all non-loopback interfaces since boot.",
  );
  const tx = gauge(
    "podkit_host_network_transmit_bytes",
    "Bytes sent on all non-loopback interfaces since boot.",
  );
  const set = (g: Gauge, v: number | null | undefined) => {
    if (typeof v === "number") g.set(v);
    else g.reset();
  };
  return {
    update(h) {
      set(cpu, h.cpuUtilizationRatio);
      set(load1, h.load1);
      set(memTotal, h.memoryTotalBytes);
      set(memAvail, h.memoryAvailableBytes);
      set(rx, h.networkRxBytes);
      set(tx, h.networkTxBytes);
      diskTotal.reset();
      diskUsed.reset();
      for (const d of h.disks) {
        diskTotal.set({ mount: d.mount }, d.totalBytes);
        diskUsed.set({ mount: d.mount }, d.usedBytes);
      }
    },
  };
}

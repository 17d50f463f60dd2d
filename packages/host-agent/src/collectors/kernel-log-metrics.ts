import type { XidEvent } from "@podkit/core";
import { Counter, Gauge, type Registry } from "prom-client";
import type { MetricSink } from "./collector.js";

/** The kernel-log collector's metrics: XID and SXid counters, when an XID was last seen. */
export function kernelLogMetrics(registry: Registry): MetricSink<{ errors: Array<{ xid: XidEvent }> }> {
  const registers = [registry];
  const xidTotal = new Counter({
    name: "podkit_gpu_xid_errors_total",
    help: "NVRM Xid errors seen in the kernel log.",
    labelNames: ["gpu", "pci_bus_id", "xid", "action"],
    registers,
  });
  const xidLast = new Gauge({
    name: "podkit_gpu_xid_last_timestamp_seconds",
    help: "When an Xid was last seen.",
    labelNames: ["gpu", "pci_bus_id", "xid"],
    registers,
  });
  const sxidTotal = new Counter({
    name: "podkit_nvswitch_sxid_errors_total",
    help: "NVSwitch SXid errors seen in the kernel log.",
    labelNames: ["pci_bus_id", "sxid"],
    registers,
  });
  const record = (e: XidEvent) => {
    const bus = e.pciBusId ?? "";
    if (e.kind === "sxid") {
      sxidTotal.inc({ pci_bus_id: bus, sxid: String(e.xid) });
      return;
    }
    const gpu = e.gpuIndex === null ? "" : String(e.gpuIndex);
    xidTotal.inc({ gpu, pci_bus_id: bus, xid: String(e.xid), action: e.action });
    xidLast.set({ gpu, pci_bus_id: bus, xid: String(e.xid) }, Date.parse(e.at) / 1000);
  };
  return {
    update(reading) {
      for (const e of reading.errors) record(e.xid);
    },
  };
}

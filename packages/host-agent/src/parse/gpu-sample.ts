import type { GpuSample } from "@podkit/core";
import {
  clocksEventReasonFromXmlName,
  clocksEventReasonsFromMask,
  clocksEventReasonsFromSection,
  temperatureLimits,
} from "./gpu-limits.js";
import type { CsvGpuRow } from "./query-gpu-csv.js";
import { pick, type QueryTextGpu, type QueryTextNode } from "./query-text.js";
import { type XmlNode, xmlText } from "./query-xml.js";
import { baseUnits, bool, normalizePciBusId, num, text } from "./values.js";

/**
 * Fields the agent asks `--query-gpu` for. Each entry lists the names across drivers, newest
 * first; the collector keeps the first one the driver's `--help-query-gpu` knows and drops the
 * rest, so one missing field never fails the whole query.
 */
export const WANTED_CSV_FIELDS: ReadonlyArray<readonly string[]> = [
  ["index"],
  ["uuid"],
  ["name"],
  ["pci.bus_id"],
  ["serial"],
  ["driver_version"],
  ["temperature.gpu"],
  ["temperature.memory"],
  ["utilization.gpu"],
  ["utilization.memory"],
  ["memory.used"],
  ["memory.total"],
  ["power.draw", "power.draw.instant"],
  ["power.limit"],
  ["clocks.current.sm", "clocks.sm"],
  ["clocks.current.memory", "clocks.mem"],
  ["fan.speed"],
  ["pstate"],
  ["mig.mode.current"],
  ["ecc.errors.uncorrected.volatile.total"],
  ["ecc.errors.uncorrected.aggregate.total"],
  ["ecc.errors.corrected.volatile.total"],
  ["ecc.errors.corrected.aggregate.total"],
  ["remapped_rows.correctable", "remapped_rows.sbe"],
  ["remapped_rows.uncorrectable", "remapped_rows.dbe"],
  ["utilization.encoder"],
  ["utilization.decoder"],
  ["retired_pages.pending"],
  ["remapped_rows.pending"],
  ["remapped_rows.failure"],
  ["pcie.link.gen.current"],
  ["pcie.link.gen.max"],
  ["pcie.link.width.current"],
  ["pcie.link.width.max"],
  ["clocks_event_reasons.active", "clocks_throttle_reasons.active"],
  ["clocks_event_reasons.supported", "clocks_throttle_reasons.supported"],
  ["temperature.gpu.tlimit"],
];

/** Pick, for each wanted field, the first alias the driver supports (all first aliases when unknown). */
export function chooseCsvFields(available: readonly string[] | null): string[] {
  if (!available) return WANTED_CSV_FIELDS.map((aliases) => aliases[0]!);
  const known = new Set(available);
  return WANTED_CSV_FIELDS.flatMap((aliases) => aliases.find((a) => known.has(a)) ?? []);
}

function csvValue(row: CsvGpuRow, ...names: string[]): { cell: string | null; unit: string | null } {
  for (const n of names) {
    if (n in row.cells) return { cell: row.cells[n] ?? null, unit: row.units[n] ?? null };
  }
  return { cell: null, unit: null };
}

function csvNum(row: CsvGpuRow, unitIfMissing: string | null, ...names: string[]): number | null {
  const { cell, unit } = csvValue(row, ...names);
  return baseUnits(cell, unit ?? unitIfMissing);
}

/**
 * One CSV row → GpuSample. Returns null when the identity columns are missing: a row without an
 * index, UUID or bus id cannot be trusted to describe a GPU at all.
 */
export function gpuSampleFromCsv(row: CsvGpuRow): GpuSample | null {
  const index = num(csvValue(row, "index").cell);
  const uuid = text(csvValue(row, "uuid", "gpu_uuid").cell);
  const busId = normalizePciBusId(csvValue(row, "pci.bus_id", "gpu_bus_id").cell);
  if (index === null || uuid === null || busId === null) return null;
  return {
    index,
    uuid,
    name: text(csvValue(row, "name", "gpu_name").cell) ?? "unknown",
    pciBusId: busId,
    serial: text(csvValue(row, "serial").cell),
    temperatureCelsius: csvNum(row, null, "temperature.gpu"),
    memoryTemperatureCelsius: csvNum(row, null, "temperature.memory"),
    utilizationRatio: csvNum(row, "%", "utilization.gpu"),
    memoryUtilizationRatio: csvNum(row, "%", "utilization.memory"),
    memoryUsedBytes: csvNum(row, "MiB", "memory.used"),
    memoryTotalBytes: csvNum(row, "MiB", "memory.total"),
    powerWatts: csvNum(row, null, "power.draw", "power.draw.instant"),
    powerLimitWatts: csvNum(row, null, "power.limit"),
    smClockHz: csvNum(row, "MHz", "clocks.current.sm", "clocks.sm"),
    memClockHz: csvNum(row, "MHz", "clocks.current.memory", "clocks.mem"),
    fanRatio: csvNum(row, "%", "fan.speed"),
    eccVolatileUncorrected: num(csvValue(row, "ecc.errors.uncorrected.volatile.total").cell),
    eccAggregateUncorrected: num(csvValue(row, "ecc.errors.uncorrected.aggregate.total").cell),
    eccVolatileCorrected: num(csvValue(row, "ecc.errors.corrected.volatile.total").cell),
    eccAggregateCorrected: num(csvValue(row, "ecc.errors.corrected.aggregate.total").cell),
    remappedRowsCorrectable: num(csvValue(row, "remapped_rows.correctable", "remapped_rows.sbe").cell),
    remappedRowsUncorrectable: num(csvValue(row, "remapped_rows.uncorrectable", "remapped_rows.dbe").cell),
    encoderUtilizationRatio: csvNum(row, "%", "utilization.encoder"),
    decoderUtilizationRatio: csvNum(row, "%", "utilization.decoder"),
    retiredPagesPending: bool(csvValue(row, "retired_pages.pending").cell),
    remappedRowsPending: bool(csvValue(row, "remapped_rows.pending").cell),
    remappedRowsFailure: bool(csvValue(row, "remapped_rows.failure").cell),
    pstate: text(csvValue(row, "pstate").cell),
    migMode: text(csvValue(row, "mig.mode.current").cell),
    pcieLinkGenCurrent: num(csvValue(row, "pcie.link.gen.current").cell),
    pcieLinkGenMax: num(csvValue(row, "pcie.link.gen.max").cell),
    pcieLinkWidthCurrent: num(csvValue(row, "pcie.link.width.current").cell),
    pcieLinkWidthMax: num(csvValue(row, "pcie.link.width.max").cell),
    clocksEventReasons: clocksEventReasonsFromMask(
      csvValue(row, "clocks_event_reasons.active", "clocks_throttle_reasons.active").cell,
      csvValue(row, "clocks_event_reasons.supported", "clocks_throttle_reasons.supported").cell,
    ),
    ...temperatureLimits({
      margin: csvValue(row, "temperature.gpu.tlimit").cell,
    }),
  };
}

/** One `-q` text block → GpuSample; null when identity is missing (e.g. a truncated block). */
export function gpuSampleFromText(gpu: QueryTextGpu, index: number): GpuSample | null {
  const t = gpu.tree;
  const uuid = text(pick(t, "GPU UUID"));
  const busId = normalizePciBusId(pick(t, "PCI", "Bus Id") ?? gpu.busId);
  if (!uuid || !busId) return null;
  const power = pick(t, "GPU Power Readings", "Power Draw") ?? pick(t, "Power Readings", "Power Draw");
  return {
    index: num(pick(t, "Minor Number")) ?? index,
    uuid,
    name: text(pick(t, "Product Name")) ?? "unknown",
    pciBusId: busId,
    serial: text(pick(t, "Serial Number")),
    temperatureCelsius: num(pick(t, "Temperature", "GPU Current Temp")),
    memoryTemperatureCelsius: num(pick(t, "Temperature", "Memory Current Temp")),
    utilizationRatio: baseUnits(pick(t, "Utilization", "Gpu")),
    memoryUtilizationRatio: baseUnits(pick(t, "Utilization", "Memory")),
    memoryUsedBytes: baseUnits(pick(t, "FB Memory Usage", "Used")),
    memoryTotalBytes: baseUnits(pick(t, "FB Memory Usage", "Total")),
    powerWatts: num(power),
    powerLimitWatts: num(
      pick(t, "GPU Power Readings", "Current Power Limit") ?? pick(t, "Power Readings", "Power Limit"),
    ),
    smClockHz: baseUnits(pick(t, "Clocks", "SM")),
    memClockHz: baseUnits(pick(t, "Clocks", "Memory")),
    fanRatio: baseUnits(pick(t, "Fan Speed")),
    eccVolatileUncorrected: sumOrNull(
      num(pick(t, "ECC Errors", "Volatile", "DRAM Uncorrectable")),
      num(pick(t, "ECC Errors", "Volatile", "SRAM Uncorrectable SEC-DED")),
    ),
    eccAggregateUncorrected: sumOrNull(
      num(pick(t, "ECC Errors", "Aggregate", "DRAM Uncorrectable")),
      num(pick(t, "ECC Errors", "Aggregate", "SRAM Uncorrectable SEC-DED")),
    ),
    eccVolatileCorrected: sumOrNull(
      num(pick(t, "ECC Errors", "Volatile", "DRAM Correctable")),
      num(pick(t, "ECC Errors", "Volatile", "SRAM Correctable")),
    ),
    eccAggregateCorrected: sumOrNull(
      num(pick(t, "ECC Errors", "Aggregate", "DRAM Correctable")),
      num(pick(t, "ECC Errors", "Aggregate", "SRAM Correctable")),
    ),
    remappedRowsCorrectable: num(pick(t, "Remapped Rows", "Correctable Error")),
    remappedRowsUncorrectable: num(pick(t, "Remapped Rows", "Uncorrectable Error")),
    pcieReplays: num(pick(t, "PCI", "Replays Since Reset")),
    encoderUtilizationRatio: baseUnits(pick(t, "Utilization", "Encoder")),
    decoderUtilizationRatio: baseUnits(pick(t, "Utilization", "Decoder")),
    retiredPagesPending: bool(pick(t, "Retired Pages", "Pending Page Blacklist")),
    remappedRowsPending: bool(pick(t, "Remapped Rows", "Pending")),
    remappedRowsFailure: bool(pick(t, "Remapped Rows", "Remapping Failure Occurred")),
    pstate: text(pick(t, "Performance State")),
    migMode: text(pick(t, "MIG Mode", "Current")),
    pcieLinkGenCurrent: num(pick(t, "PCI", "GPU Link Info", "PCIe Generation", "Current")),
    pcieLinkGenMax: num(pick(t, "PCI", "GPU Link Info", "PCIe Generation", "Max")),
    pcieLinkWidthCurrent: num(pick(t, "PCI", "GPU Link Info", "Link Width", "Current")),
    pcieLinkWidthMax: num(pick(t, "PCI", "GPU Link Info", "Link Width", "Max")),
    clocksEventReasons: clocksEventReasonsFromSection(
      (t["Clocks Event Reasons"] ?? t["Clocks Throttle Reasons"]) as QueryTextNode | undefined,
    ),
    ...temperatureLimits({
      margin: pick(t, "Temperature", "GPU T.Limit Temp"),
      maxOperating: pick(t, "Temperature", "GPU Max Operating Temp"),
      slowdown: pick(t, "Temperature", "GPU Slowdown Temp"),
      shutdown: pick(t, "Temperature", "GPU Shutdown Temp"),
    }),
  };
}

function sumOrNull(...values: Array<number | null>): number | null {
  const present = values.filter((v): v is number => v !== null);
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0);
}

/** One `<gpu>` of `-q -x` → GpuSample (both the ≤525 and ≥535 element names). */
export function gpuSampleFromXml(node: XmlNode, busIdAttr: string, index: number): GpuSample | null {
  const uuid = text(xmlText(node, "uuid"));
  const busId = normalizePciBusId(xmlText(node, "pci", "pci_bus_id") ?? busIdAttr);
  if (!uuid || !busId) return null;
  const powerNode = (node.gpu_power_readings ?? node.power_readings) as XmlNode | undefined;
  // ECC counts: DRAM and SRAM on ≥535 drivers, single/double bit on older ones; summed.
  const eccSum = (scope: "volatile" | "aggregate", kind: "correctable" | "uncorrectable") =>
    sumOrNull(
      num(xmlText(node, "ecc_errors", scope, `dram_${kind}`)),
      num(xmlText(node, "ecc_errors", scope, `sram_${kind}`)),
      num(xmlText(node, "ecc_errors", scope, kind === "correctable" ? "single_bit" : "double_bit", "total")),
    );
  return {
    index: num(xmlText(node, "minor_number")) ?? index,
    uuid,
    name: text(xmlText(node, "product_name")) ?? "unknown",
    pciBusId: busId,
    serial: text(xmlText(node, "serial")),
    temperatureCelsius: num(xmlText(node, "temperature", "gpu_temp")),
    memoryTemperatureCelsius: num(xmlText(node, "temperature", "memory_temp")),
    utilizationRatio: baseUnits(xmlText(node, "utilization", "gpu_util")),
    memoryUtilizationRatio: baseUnits(xmlText(node, "utilization", "memory_util")),
    memoryUsedBytes: baseUnits(xmlText(node, "fb_memory_usage", "used")),
    memoryTotalBytes: baseUnits(xmlText(node, "fb_memory_usage", "total")),
    powerWatts: num(
      xmlText(powerNode, "power_draw") ??
        xmlText(powerNode, "instant_power_draw") ??
        xmlText(powerNode, "average_power_draw"),
    ),
    powerLimitWatts: num(xmlText(powerNode, "current_power_limit") ?? xmlText(powerNode, "power_limit")),
    smClockHz: baseUnits(xmlText(node, "clocks", "sm_clock")),
    memClockHz: baseUnits(xmlText(node, "clocks", "mem_clock")),
    fanRatio: baseUnits(xmlText(node, "fan_speed")),
    eccVolatileUncorrected: eccSum("volatile", "uncorrectable"),
    eccAggregateUncorrected: eccSum("aggregate", "uncorrectable"),
    eccVolatileCorrected: eccSum("volatile", "correctable"),
    eccAggregateCorrected: eccSum("aggregate", "correctable"),
    remappedRowsCorrectable: num(xmlText(node, "remapped_rows", "remapped_row_corr")),
    remappedRowsUncorrectable: num(xmlText(node, "remapped_rows", "remapped_row_unc")),
    pcieReplays: num(xmlText(node, "pci", "replay_counter")),
    encoderUtilizationRatio: baseUnits(xmlText(node, "utilization", "encoder_util")),
    decoderUtilizationRatio: baseUnits(xmlText(node, "utilization", "decoder_util")),
    retiredPagesPending: bool(xmlText(node, "retired_pages", "pending_retirement")),
    remappedRowsPending: bool(xmlText(node, "remapped_rows", "remapped_row_pending")),
    remappedRowsFailure: bool(xmlText(node, "remapped_rows", "remapped_row_failure")),
    pstate: text(xmlText(node, "performance_state")),
    migMode: text(xmlText(node, "mig_mode", "current_mig")),
    pcieLinkGenCurrent: num(xmlText(node, "pci", "pci_gpu_link_info", "pcie_gen", "current_link_gen")),
    pcieLinkGenMax: num(xmlText(node, "pci", "pci_gpu_link_info", "pcie_gen", "max_link_gen")),
    pcieLinkWidthCurrent: num(xmlText(node, "pci", "pci_gpu_link_info", "link_widths", "current_link_width")),
    pcieLinkWidthMax: num(xmlText(node, "pci", "pci_gpu_link_info", "link_widths", "max_link_width")),
    clocksEventReasons: clocksEventReasonsFromSection(
      (node.clocks_event_reasons ?? node.clocks_throttle_reasons) as XmlNode | undefined,
      clocksEventReasonFromXmlName,
    ),
    ...temperatureLimits({
      margin: xmlText(node, "temperature", "gpu_temp_tlimit"),
      maxOperating: xmlText(node, "temperature", "gpu_temp_max_gpu_threshold"),
      slowdown: xmlText(node, "temperature", "gpu_temp_slow_threshold"),
      shutdown: xmlText(node, "temperature", "gpu_temp_max_threshold"),
    }),
  };
}

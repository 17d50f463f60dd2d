import { readFileSync } from "node:fs";
import { cpus, hostname, release } from "node:os";
import { findGpuType, type HostSample, type MachineInfo } from "@podkit/core";
import type { GpuReadingWithMeta } from "./parse/reading.js";

function osName(): string | undefined {
  try {
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

export function readBootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "unknown-boot";
  }
}

/** What the host registers with: its GPUs as read now, and whether they are simulated. */
export function buildMachineInfo(
  reading: GpuReadingWithMeta | null,
  host: HostSample | null,
  source: { simulated: boolean; description: string },
): MachineInfo {
  const os = osName();
  const cpuModel = cpus()[0]?.model;
  return {
    hostname: host?.hostname ?? hostname(),
    ...(os ? { os } : {}),
    kernel: release(),
    ...(cpuModel ? { cpuModel } : {}),
    cpuCount: host?.cpuCount ?? Math.max(1, cpus().length),
    memoryTotalBytes: host?.memoryTotalBytes ?? 0,
    driverVersion: reading?.driverVersion ?? null,
    cudaVersion: reading?.cudaVersion ?? null,
    gpus: (reading?.gpus ?? []).map((g) => ({
      index: g.index,
      uuid: g.uuid,
      name: g.name,
      pciBusId: g.pciBusId,
      memoryTotalBytes: g.memoryTotalBytes,
      gpuTypeId: findGpuType(g.name)?.id ?? null,
    })),
    // A failed read (driver mismatch, nvidia-smi hung) says nothing about how many GPUs there are.
    gpusKnown: reading !== null && (reading.failure === null || reading.gpus.length > 0),
    simulated: source.simulated,
    ...(source.simulated ? { simulatedSource: source.description } : {}),
  };
}

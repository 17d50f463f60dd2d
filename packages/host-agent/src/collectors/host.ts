import { existsSync, readFileSync, statfsSync } from "node:fs";
import { cpus, hostname } from "node:os";
import type { HostSample } from "@podkit/core";
import type { Collector, CollectorContext } from "./collector.js";
import { hostMetrics } from "./host-metrics.js";

/** Pure readers of /proc files (tested on text), and a collector that keeps the CPU delta. */
export function parseProcStatCpu(text: string): { busy: number; total: number } | null {
  const line = text.split("\n").find((l) => l.startsWith("cpu "));
  if (!line) return null;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } {
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kb("MemTotal"), availableBytes: kb("MemAvailable") };
}

/** Bytes received/sent over all interfaces except loopback. */
export function parseNetDev(text: string): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const line of text.split("\n").slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1]!.trim() === "lo") continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

export interface HostCollectorOptions {
  /** Mount points to report; those that do not exist are skipped. */
  disks?: string[];
  procRoot?: string;
}

export class HostCollector {
  private lastCpu: { busy: number; total: number } | null = null;
  constructor(private readonly options: HostCollectorOptions = {}) {}

  private proc(name: string): string | null {
    try {
      return readFileSync(`${this.options.procRoot ?? "/proc"}/${name}`, "utf8");
    } catch {
      return null;
    }
  }

  collect(): HostSample {
    const stat = this.proc("stat");
    const cpu = stat ? parseProcStatCpu(stat) : null;
    let utilization: number | null = null;
    if (cpu && this.lastCpu && cpu.total > this.lastCpu.total) {
      utilization = (cpu.busy - this.lastCpu.busy) / (cpu.total - this.lastCpu.total);
    }
    if (cpu) this.lastCpu = cpu;
    const mem = parseMeminfo(this.proc("meminfo") ?? "");
    const net = this.proc("net/dev");
    const netTotals = net ? parseNetDev(net) : null;
    const load = this.proc("loadavg");
    const uptime = this.proc("uptime");
    const disks = (this.options.disks ?? ["/", "/workspace", "/var/lib/docker"])
      .filter((m, i, all) => all.indexOf(m) === i && existsSync(m))
      .map((mount) => {
        const s = statfsSync(mount);
        const total = s.blocks * s.bsize;
        return { mount, totalBytes: total, usedBytes: total - s.bfree * s.bsize };
      });
    return {
      at: new Date().toISOString(),
      hostname: hostname(),
      cpuCount: Math.max(1, cpus().length),
      cpuUtilizationRatio: utilization,
      load1: load ? Number(load.split(" ")[0]) : null,
      memoryTotalBytes: mem.totalBytes,
      memoryAvailableBytes: mem.availableBytes,
      disks,
      networkRxBytes: netTotals?.rx ?? null,
      networkTxBytes: netTotals?.tx ?? null,
      uptimeSeconds: uptime ? Number(uptime.split(" ")[0]) : null,
    };
  }
}

/** /proc and statfs, every `intervalMs`. */
export function hostCollector(c: CollectorContext): Collector<HostSample> {
  const collector = new HostCollector({ disks: c.disks });
  return {
    name: "host",
    intervalMs: c.hostIntervalMs ?? 10_000,
    budgetMs: 5_000,
    collect: async () => collector.collect(),
    succeeded: () => true,
    metrics: hostMetrics,
  };
}

import { formatBytes } from "@podkit/core";
import { nextWindow } from "./maintenance.js";
import type { AgentStatus } from "./status.js";

/** How old status.json may be before we say the agent is not running. */
export const STATUS_STALE_MS = 60_000;

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [headers, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const dash = (v: number | null | undefined, f: (n: number) => string = String) =>
  typeof v === "number" ? f(v) : "-";

/** The human view of `podkit agent status`. */
export function formatStatusText(s: AgentStatus, now: Date): string {
  const lines: string[] = [];
  const age = now.getTime() - Date.parse(s.updatedAt);
  if (age > STATUS_STALE_MS)
    lines.push(
      `WARNING: last update ${Math.round(age / 1000)} s ago (${s.updatedAt}): is the agent running?`,
    );
  if (s.gpuSource.simulated) lines.push(`WARNING: ${s.gpuSource.description}`);
  lines.push(
    `Machine:   ${s.machine.hostname}  driver ${s.machine.driverVersion ?? "-"}  CUDA ${s.machine.cudaVersion ?? "-"}`,
  );
  lines.push(`Health:    ${s.machine.health.state}`);
  for (const r of s.machine.health.reasons) {
    lines.push(
      `  - ${r.code} [${r.state}]${r.gpuIndex === undefined ? "" : ` GPU ${r.gpuIndex}`}: ${r.message}`,
    );
    if (r.clearsWhen) lines.push(`      clears when: ${r.clearsWhen}`);
  }
  lines.push(
    `GPUs:      ${s.gpus.length} present${s.listedGpuCount === null ? "" : ` of ${s.listedGpuCount} listed`}`,
  );
  if (s.gpuReading?.stale) {
    const age = Math.round((now.getTime() - Date.parse(s.gpuReading.at)) / 1000);
    lines.push(`           stale: read ${age} s ago; newer reads are late (${s.gpuReading.staleReason})`);
  }
  if (s.gpus.length > 0) {
    lines.push(
      table(
        ["GPU", "NAME", "BUS ID", "TEMP", "UTIL", "MEMORY", "POWER", "HEALTH"],
        s.gpus.map((g) => [
          String(g.index),
          g.name,
          g.pciBusId,
          dash(g.temperatureCelsius, (n) => `${n} C`),
          dash(g.utilizationRatio, (n) => `${Math.round(n * 100)}%`),
          g.memoryUsedBytes !== null && g.memoryTotalBytes !== null
            ? `${formatBytes(g.memoryUsedBytes)} / ${formatBytes(g.memoryTotalBytes)}`
            : "-",
          dash(g.powerWatts, (n) => `${n.toFixed(0)} W`),
          g.health.state,
        ]),
      )
        .split("\n")
        .map((l) => `  ${l}`)
        .join("\n"),
    );
  }
  lines.push(
    `Listing:   ${s.listing ? `${s.listing.state}${s.listing.reasons.length ? ` (${s.listing.reasons.join(", ")})` : ""}` : "unknown (not enrolled or no word from the control plane)"}${s.rented === null ? "" : s.rented ? ", rented" : ", not rented"}`,
  );
  const next = nextWindow(s.maintenanceWindows, now);
  lines.push(
    `Maintenance: ${s.maintenanceWindows.length === 0 ? "no windows" : s.maintenanceWindows.map((w) => `${w.id} ${w.start} → ${w.end} (${w.status})`).join("; ")}${next ? `; next: ${next.start}` : ""}`,
  );
  const cp = s.controlPlane;
  lines.push(
    cp
      ? `Control plane: ${cp.url} ${cp.connected ? "connected" : "DISCONNECTED"}; last heartbeat ${cp.lastHeartbeatAt ?? "never"}; last ack ${cp.lastAckAt ?? "never"}; outbox ${cp.outboxMessages} waiting${cp.lastError ? `; last error: ${cp.lastError}` : ""}`
      : "Control plane: none (standalone)",
  );
  // The name the operator's commands take (podkit hosts show, maintenance schedule).
  if (cp) lines.push(`Host id:   ${s.hostId ?? "none yet (not enrolled)"}`);
  lines.push(`Metrics:   ${s.metricsUrl}`);
  return lines.join("\n");
}

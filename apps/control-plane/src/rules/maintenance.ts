import { MAINTENANCE_RULES, type MaintenanceWindow } from "@podkit/core";
import { clipIntervals, type Interval, totalMs } from "./intervals.js";

const DAY_MS = 86_400_000;

export type MaintenanceStatus = MaintenanceWindow["status"];

/** A stored window: times in epoch ms, `cancelled` the only state kept; the rest follows from the clock. */
export interface StoredWindow {
  id: string;
  hostId: string;
  start: number;
  end: number;
  immediate: boolean;
  cancelled: boolean;
  reason?: string | null;
  createdAt?: number;
}

export function windowStatus(w: StoredWindow, now: number): MaintenanceStatus {
  if (w.cancelled) return "cancelled";
  if (now < w.start) return "scheduled";
  if (now < w.end) return "active";
  return "done";
}

export function toMaintenanceWindow(w: StoredWindow, now: number): MaintenanceWindow {
  return {
    id: w.id,
    hostId: w.hostId,
    start: new Date(w.start).toISOString(),
    end: new Date(w.end).toISOString(),
    immediate: w.immediate,
    ...(w.reason ? { reason: w.reason } : {}),
    status: windowStatus(w, now),
    ...(w.createdAt !== undefined ? { createdAt: new Date(w.createdAt).toISOString() } : {}),
  };
}

export type MaintenanceRefusal =
  | "MAINTENANCE_NOTICE_TOO_SHORT"
  | "MAINTENANCE_HOST_RENTED"
  | "MAINTENANCE_OVERLAP"
  | "MAINTENANCE_BAD_DURATION";

export type MaintenanceDecision =
  | { ok: true; start: number; end: number }
  | { ok: false; code: MaintenanceRefusal; message: string };

export interface MaintenanceRequest {
  now: number;
  /** Ignored for immediate maintenance, which starts now. */
  start: number;
  durationMs: number;
  immediate: boolean;
  rented: boolean;
  /** The host's other windows (cancelled and finished ones are ignored). */
  existing: readonly StoredWindow[];
  minNoticeMs?: number;
  maxDurationMs?: number;
}

const HOUR_MS = 3_600_000;
const fmtDays = (ms: number) => `${Math.floor(ms / DAY_MS)} d ${Math.floor((ms % DAY_MS) / HOUR_MS)} h`;

/**
 * The hosting rules for a new (or moved) window: at least 7 days' notice, or immediate only
 * while nobody rents the machine; windows on one host never overlap.
 */
export function checkMaintenanceRequest(req: MaintenanceRequest): MaintenanceDecision {
  const minNoticeMs = req.minNoticeMs ?? MAINTENANCE_RULES.minNoticeMs;
  const maxDurationMs = req.maxDurationMs ?? 30 * DAY_MS;
  if (!Number.isFinite(req.durationMs) || req.durationMs <= 0 || req.durationMs > maxDurationMs) {
    return {
      ok: false,
      code: "MAINTENANCE_BAD_DURATION",
      message: `a maintenance window lasts more than 0 and at most ${fmtDays(maxDurationMs)}`,
    };
  }
  let start = req.start;
  if (req.immediate) {
    if (req.rented) {
      return {
        ok: false,
        code: "MAINTENANCE_HOST_RENTED",
        message:
          "immediate maintenance is allowed only while the machine is unrented; schedule it at least 7 days ahead instead",
      };
    }
    start = req.now;
  } else if (start - req.now < minNoticeMs) {
    return {
      ok: false,
      code: "MAINTENANCE_NOTICE_TOO_SHORT",
      message: `maintenance must be scheduled at least ${fmtDays(minNoticeMs)} ahead (this one starts in ${fmtDays(Math.max(0, start - req.now))}); use --immediate only on an unrented machine`,
    };
  }
  const end = start + req.durationMs;
  const clash = req.existing.find((w) => !w.cancelled && w.end > req.now && w.start < end && start < w.end);
  if (clash) {
    return {
      ok: false,
      code: "MAINTENANCE_OVERLAP",
      message: `overlaps maintenance window ${clash.id} (${new Date(clash.start).toISOString()} – ${new Date(clash.end).toISOString()}); cancel it first or pick another time`,
    };
  }
  return { ok: true, start, end };
}

/** Listing reason a window causes at `now`, if any: the machine leaves the pool 4 days before. */
export function maintenanceListingReason(
  windows: readonly StoredWindow[],
  now: number,
  unlistBeforeMs: number = MAINTENANCE_RULES.unlistBeforeMs,
): "IN_MAINTENANCE" | "MAINTENANCE_SOON" | null {
  let soon = false;
  for (const w of windows) {
    if (w.cancelled) continue;
    if (now >= w.start && now < w.end) return "IN_MAINTENANCE";
    if (now >= w.start - unlistBeforeMs && now < w.start) soon = true;
  }
  return soon ? "MAINTENANCE_SOON" : null;
}

export function maintenanceIntervals(windows: readonly StoredWindow[]): Interval[] {
  return windows.filter((w) => !w.cancelled).map((w) => ({ start: w.start, end: w.end }));
}

/** Share of the last `windowDays` days the machine spent in maintenance (up to now). */
export function maintenanceShare(windows: readonly StoredWindow[], now: number, windowDays = 30): number {
  const from = now - windowDays * DAY_MS;
  return totalMs(clipIntervals(maintenanceIntervals(windows), from, now)) / (windowDays * DAY_MS);
}

/** Excessive maintenance is reported (not refused): more than `maxShare` of the last 30 days. */
export function isExcessiveMaintenance(share: number, maxShare: number): boolean {
  return share > maxShare;
}

import { type HealthState, RELIABILITY_RULES, type ReliabilityWindow } from "@podkit/core";
import {
  clipIntervals,
  type Interval,
  intervalsWhere,
  subtractIntervals,
  totalMs,
  unionIntervals,
} from "./intervals.js";

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * Listing reasons that do not cost reliability: the platform itself took the machine out of the
 * pool (before and during a maintenance window, or for low reliability — counting that would make
 * removal permanent). Every other unlisted minute counts, as the hosting rules say.
 */
export const RELIABILITY_EXCUSED_REASONS: ReadonlySet<string> = new Set([
  "MAINTENANCE_SOON",
  "IN_MAINTENANCE",
  "RELIABILITY_BELOW_MIN",
]);

/** One recorded change of a host's health or listing; it holds until the next change. */
export interface StateChange {
  at: number;
  health: HealthState | null;
  listingReasons: readonly string[];
}

export interface ReliabilityInput {
  now: number;
  /** When the host was enrolled: time before it is not the host's fault. */
  trackedSince: number;
  /** Intervals without a heartbeat (the open one, if the host is offline now, ends at `now`). */
  offline: readonly Interval[];
  /** Health and listing changes in time order, including the last one before the window. */
  changes: readonly StateChange[];
  /** Maintenance windows (not cancelled); they never count as downtime. */
  maintenance: readonly Interval[];
  windowDays?: number;
  graceMinutes?: number;
}

/** Every interval that counts as downtime, before maintenance is taken out. */
export function downtimeIntervals(input: Omit<ReliabilityInput, "maintenance">): Interval[] {
  const unhealthy = intervalsWhere(
    input.changes,
    (c) => c.health !== null && c.health !== "healthy",
    input.now,
  );
  const unlisted = intervalsWhere(
    input.changes,
    (c) => c.listingReasons.some((r) => !RELIABILITY_EXCUSED_REASONS.has(r)),
    input.now,
  );
  return unionIntervals([...input.offline, ...unhealthy, ...unlisted]);
}

/** Whole minutes touched by the intervals: a minute with any downtime in it is a down minute. */
export function downMinutes(intervals: readonly Interval[]): number {
  const minutes = intervals.map((i) => ({
    start: Math.floor(i.start / MINUTE_MS) * MINUTE_MS,
    end: Math.ceil(i.end / MINUTE_MS) * MINUTE_MS,
  }));
  return Math.round(totalMs(minutes) / MINUTE_MS);
}

/**
 * reliability = (minutes in the window − downtime minutes + grace) / minutes in the window, capped at 1,
 * over a rolling window (30 days) ending at `now`.
 */
export function computeReliability(input: ReliabilityInput): ReliabilityWindow {
  const windowDays = input.windowDays ?? RELIABILITY_RULES.windowDays;
  const graceMinutes = input.graceMinutes ?? RELIABILITY_RULES.graceMinutes;
  const to = input.now;
  const from = to - windowDays * DAY_MS;
  const countedFrom = Math.max(from, input.trackedSince);
  const maintenance = clipIntervals(input.maintenance, from, to);
  const down = subtractIntervals(clipIntervals(downtimeIntervals(input), countedFrom, to), maintenance);
  const totalMinutes = windowDays * 1440;
  const downtimeMinutes = downMinutes(down);
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    totalMinutes,
    downtimeMinutes,
    maintenanceMinutes: Math.round(totalMs(maintenance) / MINUTE_MS),
    reliability: reliabilityRatio(totalMinutes, downtimeMinutes, graceMinutes),
  };
}

export function reliabilityRatio(
  totalMinutes: number,
  downtimeMinutes: number,
  graceMinutes: number,
): number {
  return Math.max(0, Math.min(1, (totalMinutes - downtimeMinutes + graceMinutes) / totalMinutes));
}

/** Below the minimum the machine leaves the pool (listing state `removed`). */
export function isBelowMinimum(
  reliability: number,
  minimum: number = RELIABILITY_RULES.minReliability,
): boolean {
  return reliability < minimum;
}

/** Reliability at the end of each of the last `days` days (the rolling window at that moment), oldest first. */
export function reliabilityHistory(
  input: ReliabilityInput,
  days = 30,
): Array<{ at: string; reliability: number; downtimeMinutes: number }> {
  const out: Array<{ at: string; reliability: number; downtimeMinutes: number }> = [];
  for (let k = days - 1; k >= 0; k--) {
    const now = input.now - k * DAY_MS;
    const r = computeReliability({ ...input, now });
    out.push({ at: r.to, reliability: r.reliability, downtimeMinutes: r.downtimeMinutes });
  }
  return out;
}

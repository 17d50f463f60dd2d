import { z } from "zod";

const isoTime = z.string().datetime({ offset: true });

export const MaintenanceWindowSchema = z.object({
  id: z.string().min(1),
  hostId: z.string().min(1),
  start: isoTime,
  end: isoTime,
  /** Immediate windows are allowed only on unrented machines. */
  immediate: z.boolean().default(false),
  reason: z.string().optional(),
  status: z.enum(["scheduled", "active", "done", "cancelled"]).default("scheduled"),
  createdAt: isoTime.optional(),
});
export type MaintenanceWindow = z.infer<typeof MaintenanceWindowSchema>;

/** The platform's maintenance rules, as numbers the control plane and the agent share. */
export const MAINTENANCE_RULES = {
  /** Scheduled maintenance must start at least this far ahead. */
  minNoticeMs: 7 * 24 * 3_600_000,
  /** A machine leaves the pool this long before a window starts. */
  unlistBeforeMs: 4 * 24 * 3_600_000,
} as const;

export const ListingStateSchema = z.enum(["listed", "unlisted", "removed"]);
export type ListingState = z.infer<typeof ListingStateSchema>;

export const ListingSchema = z.object({
  state: ListingStateSchema,
  /** Stable reason codes, e.g. MAINTENANCE_SOON, BURN_TEST_FAILED, GPU_LOST, RELIABILITY_BELOW_MIN, BURN_TEST_RUNNING. */
  reasons: z.array(z.string()),
  since: isoTime,
});
export type Listing = z.infer<typeof ListingSchema>;

/** Reliability over a rolling window (30 days), as a ratio in [0, 1]. */
export const ReliabilityWindowSchema = z.object({
  from: isoTime,
  to: isoTime,
  totalMinutes: z.number().nonnegative(),
  downtimeMinutes: z.number().nonnegative(),
  maintenanceMinutes: z.number().nonnegative(),
  reliability: z.number().min(0).max(1),
});
export type ReliabilityWindow = z.infer<typeof ReliabilityWindowSchema>;

export const RELIABILITY_RULES = {
  windowDays: 30,
  /** Minutes of grace added before dividing. */
  graceMinutes: 10,
  /** Below this the machine is removed from the pool. */
  minReliability: 0.98,
} as const;

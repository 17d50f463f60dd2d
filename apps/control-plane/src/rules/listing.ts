import { type HealthState, type ListingState, MAINTENANCE_RULES, RELIABILITY_RULES } from "@podkit/core";
import { maintenanceListingReason, type StoredWindow } from "./maintenance.js";
import { isBelowMinimum } from "./reliability.js";

/** Reasons that agents' events set on a host and that stay until the matching all-clear. */
export const HOST_FLAGS = [
  "BURN_TEST_RUNNING",
  "BURN_TEST_FAILED",
  "GPU_LOST",
  "HOST_REQUEST",
  "GPUS_UNKNOWN",
] as const;
export type HostFlag = (typeof HOST_FLAGS)[number];

export interface ListingInput {
  now: number;
  online: boolean;
  health: HealthState | null;
  flags: readonly string[];
  windows: readonly StoredWindow[];
  reliability: number;
  minReliability?: number;
  unlistBeforeMs?: number;
}

export interface ListingDecision {
  state: ListingState;
  reasons: string[];
}

/** Health states that take a machine out of the pool (others only cost reliability). */
const UNLISTING_HEALTH: Partial<Record<HealthState, string>> = {
  failed: "HEALTH_FAILED",
  "reboot-required": "HEALTH_REBOOT_REQUIRED",
};

/**
 * Whether a machine is in the pool, and why not. Below the reliability minimum it is `removed`
 * (visible only to renters with data on it); any other reason makes it `unlisted`.
 */
export function decideListing(input: ListingInput): ListingDecision {
  const reasons: string[] = [];
  const removed = isBelowMinimum(input.reliability, input.minReliability ?? RELIABILITY_RULES.minReliability);
  if (removed) reasons.push("RELIABILITY_BELOW_MIN");
  const maintenance = maintenanceListingReason(
    input.windows,
    input.now,
    input.unlistBeforeMs ?? MAINTENANCE_RULES.unlistBeforeMs,
  );
  if (maintenance) reasons.push(maintenance);
  if (!input.online) reasons.push("OFFLINE");
  const healthReason = input.health ? UNLISTING_HEALTH[input.health] : undefined;
  if (healthReason) reasons.push(healthReason);
  for (const flag of HOST_FLAGS) if (input.flags.includes(flag)) reasons.push(flag);
  return { state: removed ? "removed" : reasons.length > 0 ? "unlisted" : "listed", reasons };
}

/** Flags after an agent event: burn tests and GPU loss unlist, a pass or an all-clear lifts them. */
export function applyEventToFlags(
  flags: readonly string[],
  event:
    | { kind: "burn-test"; phase: "started" | "passed" | "failed" }
    | { kind: "gpu-lost" }
    | { kind: "listing-request"; listed: boolean }
    | { kind: "health-clear" }
    | { kind: "inventory"; gpusKnown: boolean },
): string[] {
  const set = new Set(flags);
  switch (event.kind) {
    case "burn-test":
      set.delete("BURN_TEST_RUNNING");
      set.delete("BURN_TEST_FAILED");
      if (event.phase === "started") set.add("BURN_TEST_RUNNING");
      if (event.phase === "failed") set.add("BURN_TEST_FAILED");
      break;
    case "gpu-lost":
      set.add("GPU_LOST");
      break;
    case "listing-request":
      if (event.listed) set.delete("HOST_REQUEST");
      else set.add("HOST_REQUEST");
      break;
    case "inventory":
      // A machine whose GPUs could not be read cannot be offered: nobody knows what it has.
      if (event.gpusKnown) set.delete("GPUS_UNKNOWN");
      else set.add("GPUS_UNKNOWN");
      break;
    case "health-clear":
      // A healthy verdict after the loss means the GPUs are back (reset, reboot or repair).
      set.delete("GPU_LOST");
      break;
  }
  return HOST_FLAGS.filter((f) => set.has(f));
}

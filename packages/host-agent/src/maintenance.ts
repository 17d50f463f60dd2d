import type { MaintenanceWindow } from "@podkit/core";

export type DisruptiveAction = "driver-reset" | "gpu-reset" | "reboot" | "burn-test";

export interface MaintenanceContext {
  /** null when the agent never heard from a control plane. */
  rented: boolean | null;
  windows: readonly MaintenanceWindow[];
  /** True when the agent runs standalone (no control plane configured): nobody can rent it. */
  standalone: boolean;
}

export interface MaintenanceDecision {
  allowed: boolean;
  /** Why, in words a host can act on. */
  reason: string;
  activeWindow: MaintenanceWindow | null;
  nextWindow: MaintenanceWindow | null;
}

const usable = (w: MaintenanceWindow) => w.status !== "cancelled" && w.status !== "done";

export function activeWindow(windows: readonly MaintenanceWindow[], now: Date): MaintenanceWindow | null {
  const t = now.getTime();
  return windows.find((w) => usable(w) && Date.parse(w.start) <= t && t < Date.parse(w.end)) ?? null;
}

export function nextWindow(windows: readonly MaintenanceWindow[], now: Date): MaintenanceWindow | null {
  const t = now.getTime();
  return (
    windows
      .filter((w) => usable(w) && Date.parse(w.start) > t)
      .sort((a, b) => Date.parse(a.start) - Date.parse(b.start))[0] ?? null
  );
}

/**
 * The platform rule for actions that would take a renter's GPUs away (driver or GPU reset,
 * reboot through the agent, burn tests): allowed on an unrented machine, or on a rented one
 * only inside a maintenance window. An unknown rental state counts as rented.
 */
export function checkDisruptiveAction(
  action: DisruptiveAction,
  ctx: MaintenanceContext,
  now: Date,
): MaintenanceDecision {
  const active = activeWindow(ctx.windows, now);
  const next = nextWindow(ctx.windows, now);
  if (ctx.standalone)
    return {
      allowed: true,
      reason: "standalone agent (not enrolled): no renter to protect",
      activeWindow: active,
      nextWindow: next,
    };
  if (ctx.rented === false)
    return { allowed: true, reason: "the machine is not rented", activeWindow: active, nextWindow: next };
  if (active) {
    return {
      allowed: true,
      reason: `inside maintenance window ${active.id} (until ${active.end})`,
      activeWindow: active,
      nextWindow: next,
    };
  }
  const who =
    ctx.rented === null
      ? "the rental state is unknown (no word from the control plane yet)"
      : "the machine is rented";
  const when = next
    ? `the next maintenance window starts at ${next.start} (${next.id})`
    : "no maintenance window is scheduled: schedule one at least 7 days ahead with `podkit hosts maintenance`";
  return {
    allowed: false,
    reason: `refusing ${action}: ${who} and no maintenance window is active; ${when}`,
    activeWindow: null,
    nextWindow: next,
  };
}

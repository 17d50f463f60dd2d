import type { MaintenanceWindow } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { checkDisruptiveAction } from "./maintenance.js";

const now = new Date("2026-11-27T12:00:00Z");
const w = (
  id: string,
  start: string,
  end: string,
  status: MaintenanceWindow["status"] = "scheduled",
): MaintenanceWindow => ({
  id,
  hostId: "h1",
  start,
  end,
  immediate: false,
  status,
});
const soon = w("mw-next", "2026-12-05T00:00:00Z", "2026-12-05T04:00:00Z");
const later = w("mw-later", "2026-12-20T00:00:00Z", "2026-12-20T04:00:00Z");
const active = w("mw-now", "2026-11-27T11:00:00Z", "2026-11-27T13:00:00Z", "active");
const cancelledNow = w("mw-cancelled", "2026-11-27T11:00:00Z", "2026-11-27T13:00:00Z", "cancelled");

describe("maintenance rules for disruptive actions", () => {
  const table: Array<
    [string, { rented: boolean | null; windows: MaintenanceWindow[]; standalone?: boolean }, boolean, RegExp]
  > = [
    ["standalone host", { rented: null, windows: [], standalone: true }, true, /standalone/],
    ["unrented", { rented: false, windows: [] }, true, /not rented/],
    [
      "rented, inside a window",
      { rented: true, windows: [later, active] },
      true,
      /inside maintenance window mw-now/,
    ],
    ["rented, no window", { rented: true, windows: [] }, false, /no maintenance window is scheduled/],
    [
      "rented, window later",
      { rented: true, windows: [later, soon] },
      false,
      /next maintenance window starts at 2026-12-05T00:00:00Z \(mw-next\)/,
    ],
    [
      "rented, only a cancelled window now",
      { rented: true, windows: [cancelledNow] },
      false,
      /refusing burn-test: the machine is rented/,
    ],
    ["unknown rental state", { rented: null, windows: [] }, false, /rental state is unknown/],
  ];
  for (const [name, ctx, allowed, reason] of table) {
    it(name, () => {
      const d = checkDisruptiveAction("burn-test", { standalone: false, ...ctx }, now);
      expect(d.allowed).toBe(allowed);
      expect(d.reason).toMatch(reason);
    });
  }
});

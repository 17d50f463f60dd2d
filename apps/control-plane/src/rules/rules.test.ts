import { describe, expect, it } from "vitest";
import { subtractIntervals, unionIntervals } from "./intervals.js";
import { applyEventToFlags, decideListing } from "./listing.js";
import {
  checkMaintenanceRequest,
  isExcessiveMaintenance,
  maintenanceListingReason,
  maintenanceShare,
  type StoredWindow,
} from "./maintenance.js";
import { computeReliability, downMinutes, isBelowMinimum, reliabilityRatio } from "./reliability.js";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.parse("2026-11-27T12:00:00Z");

const win = (start: number, end: number, extra: Partial<StoredWindow> = {}): StoredWindow => ({
  id: "mw_1",
  hostId: "h1",
  start,
  end,
  immediate: false,
  cancelled: false,
  ...extra,
});

describe("maintenance scheduling rules", () => {
  const base = { now: NOW, durationMs: 4 * HOUR, immediate: false, rented: true, existing: [] };
  it.each([
    ["6 d 23 h ahead is refused", 6 * DAY + 23 * HOUR, false, "MAINTENANCE_NOTICE_TOO_SHORT"],
    ["7 d minus 1 ms is refused", 7 * DAY - 1, false, "MAINTENANCE_NOTICE_TOO_SHORT"],
    ["exactly 7 d ahead is accepted", 7 * DAY, true, undefined],
    ["30 d ahead is accepted", 30 * DAY, true, undefined],
    ["in the past is refused", -HOUR, false, "MAINTENANCE_NOTICE_TOO_SHORT"],
  ])("%s", (_name, ahead, ok, code) => {
    const d = checkMaintenanceRequest({ ...base, start: NOW + ahead });
    expect(d.ok).toBe(ok);
    if (!d.ok) {
      expect(d.code).toBe(code);
      expect(d.message).toContain("at least 7 d 0 h ahead");
    } else expect(d).toEqual({ ok: true, start: NOW + ahead, end: NOW + ahead + 4 * HOUR });
  });

  it("allows immediate maintenance only on an unrented machine, starting now", () => {
    const rented = checkMaintenanceRequest({ ...base, start: NOW + DAY, immediate: true, rented: true });
    expect(rented).toMatchObject({ ok: false, code: "MAINTENANCE_HOST_RENTED" });
    const free = checkMaintenanceRequest({ ...base, start: NOW + DAY, immediate: true, rented: false });
    expect(free).toEqual({ ok: true, start: NOW, end: NOW + 4 * HOUR });
  });

  it.each([
    [0, false],
    [-HOUR, false],
    [Number.NaN, false],
    [31 * DAY, false],
    [MIN, true],
  ])("duration %d ms accepted: %s", (durationMs, ok) => {
    expect(checkMaintenanceRequest({ ...base, start: NOW + 8 * DAY, durationMs }).ok).toBe(ok);
  });

  it("refuses overlapping windows but not cancelled or back-to-back ones", () => {
    const start = NOW + 8 * DAY;
    const existing = [win(start, start + 4 * HOUR)];
    expect(checkMaintenanceRequest({ ...base, start: start + HOUR, existing })).toMatchObject({
      code: "MAINTENANCE_OVERLAP",
    });
    expect(checkMaintenanceRequest({ ...base, start: start + 4 * HOUR, existing }).ok).toBe(true);
    expect(checkMaintenanceRequest({ ...base, start: start - 4 * HOUR, existing }).ok).toBe(true);
    expect(
      checkMaintenanceRequest({ ...base, start, existing: [win(start, start + HOUR, { cancelled: true })] })
        .ok,
    ).toBe(true);
  });
});

describe("unlisting around maintenance", () => {
  const start = NOW + 10 * DAY;
  const windows = [win(start, start + 4 * HOUR)];
  it.each([
    ["4 d + 1 ms before: still listed", start - 4 * DAY - 1, null],
    ["exactly 4 d before: leaves the pool", start - 4 * DAY, "MAINTENANCE_SOON"],
    ["1 ms before the start", start - 1, "MAINTENANCE_SOON"],
    ["at the start", start, "IN_MAINTENANCE"],
    ["last ms of the window", start + 4 * HOUR - 1, "IN_MAINTENANCE"],
    ["when it ends: back", start + 4 * HOUR, null],
  ])("%s", (_name, now, reason) => {
    expect(maintenanceListingReason(windows, now)).toBe(reason);
  });

  it("ignores cancelled windows", () => {
    expect(maintenanceListingReason([win(start, start + HOUR, { cancelled: true })], start)).toBeNull();
  });
});

describe("listing decision", () => {
  const healthy = {
    now: NOW,
    online: true,
    health: "healthy" as const,
    flags: [],
    windows: [],
    reliability: 1,
  };
  it.each([
    ["healthy, online, reliable", {}, "listed", []],
    ["exactly 98% stays in the pool", { reliability: 0.98 }, "listed", []],
    ["just under 98% is removed", { reliability: 0.98 - 1e-9 }, "removed", ["RELIABILITY_BELOW_MIN"]],
    ["offline", { online: false }, "unlisted", ["OFFLINE"]],
    ["failed health", { health: "failed" }, "unlisted", ["HEALTH_FAILED"]],
    ["reboot required", { health: "reboot-required" }, "unlisted", ["HEALTH_REBOOT_REQUIRED"]],
    ["degraded only costs reliability", { health: "degraded" }, "listed", []],
    ["burn test failed", { flags: ["BURN_TEST_FAILED"] }, "unlisted", ["BURN_TEST_FAILED"]],
    ["GPU lost", { flags: ["GPU_LOST"] }, "unlisted", ["GPU_LOST"]],
    [
      "maintenance in 3 days",
      { windows: [win(NOW + 3 * DAY, NOW + 3 * DAY + HOUR)] },
      "unlisted",
      ["MAINTENANCE_SOON"],
    ],
    [
      "removed and offline",
      { reliability: 0.5, online: false },
      "removed",
      ["RELIABILITY_BELOW_MIN", "OFFLINE"],
    ],
  ] as const)("%s → %s", (_name, patch, state, reasons) => {
    expect(decideListing({ ...healthy, ...patch })).toEqual({ state, reasons });
  });

  it("burn tests and GPU loss set flags that the matching all-clear lifts", () => {
    let flags = applyEventToFlags([], { kind: "burn-test", phase: "started" });
    expect(flags).toEqual(["BURN_TEST_RUNNING"]);
    flags = applyEventToFlags(flags, { kind: "burn-test", phase: "failed" });
    expect(flags).toEqual(["BURN_TEST_FAILED"]);
    flags = applyEventToFlags(flags, { kind: "gpu-lost" });
    expect(flags).toEqual(["BURN_TEST_FAILED", "GPU_LOST"]);
    flags = applyEventToFlags(flags, { kind: "burn-test", phase: "passed" });
    expect(flags).toEqual(["GPU_LOST"]);
    expect(applyEventToFlags(flags, { kind: "health-clear" })).toEqual([]);
    expect(applyEventToFlags([], { kind: "listing-request", listed: false })).toEqual(["HOST_REQUEST"]);
    expect(applyEventToFlags(["HOST_REQUEST"], { kind: "listing-request", listed: true })).toEqual([]);
  });
});

describe("reliability", () => {
  const longAgo = NOW - 90 * DAY;
  const base = { now: NOW, trackedSince: longAgo, offline: [], changes: [], maintenance: [] };

  it("the docs' example: 30 minutes down in 30 days → 99.95%", () => {
    const first = NOW - 29 * DAY;
    const r = computeReliability({ ...base, offline: [{ start: first, end: first + 30 * MIN }] });
    expect(r.totalMinutes).toBe(43_200);
    expect(r.downtimeMinutes).toBe(30);
    expect(r.reliability).toBeCloseTo((43_200 - 30 + 10) / 43_200, 12);
    expect((r.reliability * 100).toFixed(2)).toBe("99.95");
  });

  it("caps at 100% when downtime is within the 10-minute grace", () => {
    expect(
      computeReliability({ ...base, offline: [{ start: NOW - HOUR, end: NOW - HOUR + 5 * MIN }] })
        .reliability,
    ).toBe(1);
  });

  it("874 minutes down is exactly 98% (kept), 875 is just under (removed)", () => {
    expect(reliabilityRatio(43_200, 874, 10)).toBe(0.98);
    expect(isBelowMinimum(reliabilityRatio(43_200, 874, 10))).toBe(false);
    expect(isBelowMinimum(reliabilityRatio(43_200, 875, 10))).toBe(true);
    const at = (minutes: number) =>
      computeReliability({ ...base, offline: [{ start: NOW - 2 * DAY, end: NOW - 2 * DAY + minutes * MIN }] })
        .reliability;
    expect(isBelowMinimum(at(874))).toBe(false);
    expect(isBelowMinimum(at(875))).toBe(true);
  });

  it("does not count maintenance windows, even when the machine was offline in them", () => {
    const start = NOW - 5 * DAY;
    const r = computeReliability({
      ...base,
      offline: [{ start: start - 10 * MIN, end: start + 4 * HOUR }],
      maintenance: [{ start, end: start + 4 * HOUR }],
    });
    expect(r.downtimeMinutes).toBe(10);
    expect(r.maintenanceMinutes).toBe(240);
  });

  it("counts failed health and unlisted minutes, but not unlisting before maintenance", () => {
    const t = NOW - 3 * DAY;
    const r = computeReliability({
      ...base,
      changes: [
        { at: t, health: "failed", listingReasons: ["HEALTH_FAILED"] },
        { at: t + 20 * MIN, health: "healthy", listingReasons: ["HOST_REQUEST"] },
        { at: t + 50 * MIN, health: "healthy", listingReasons: ["MAINTENANCE_SOON"] },
        { at: t + 4 * DAY, health: "healthy", listingReasons: [] },
      ],
    });
    expect(r.downtimeMinutes).toBe(50);
  });

  it("counts nothing before the host was first seen, and forgets downtime older than 30 days", () => {
    expect(
      computeReliability({
        ...base,
        trackedSince: NOW - HOUR,
        offline: [{ start: NOW - 2 * DAY, end: NOW - 30 * MIN }],
      }).downtimeMinutes,
    ).toBe(30);
    expect(
      computeReliability({ ...base, offline: [{ start: NOW - 31 * DAY, end: NOW - 30 * DAY - 20 * MIN }] })
        .downtimeMinutes,
    ).toBe(0);
  });

  it("a down second costs its whole minute; adjacent pieces share minutes", () => {
    const m = Math.floor(NOW / MIN) * MIN - 10 * MIN;
    expect(downMinutes([{ start: m + 1000, end: m + 2000 }])).toBe(1);
    expect(downMinutes([{ start: m + 30_000, end: m + 90_000 }])).toBe(2);
    expect(
      downMinutes([
        { start: m, end: m + 30_000 },
        { start: m + 40_000, end: m + MIN },
      ]),
    ).toBe(1);
  });
});

describe("maintenance share and interval algebra", () => {
  it("reports more than the allowed share of 30 days as excessive", () => {
    const share = maintenanceShare([win(NOW - 4 * DAY, NOW - DAY), win(NOW + DAY, NOW + 2 * DAY)], NOW);
    expect(share).toBeCloseTo(0.1, 12);
    expect(isExcessiveMaintenance(share, 0.1)).toBe(false);
    expect(isExcessiveMaintenance(share + 1e-9, 0.1)).toBe(true);
  });

  it("merges and subtracts intervals", () => {
    expect(
      unionIntervals([
        { start: 5, end: 8 },
        { start: 0, end: 3 },
        { start: 2, end: 6 },
      ]),
    ).toEqual([{ start: 0, end: 8 }]);
    expect(
      subtractIntervals(
        [{ start: 0, end: 10 }],
        [
          { start: 2, end: 3 },
          { start: 8, end: 12 },
        ],
      ),
    ).toEqual([
      { start: 0, end: 2 },
      { start: 3, end: 8 },
    ]);
  });
});

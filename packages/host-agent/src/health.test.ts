import type { GpuSample, XidEvent } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { evaluateHealth, type GpuReading, type ListedGpu } from "./health.js";
import { XID_CLEAR_AFTER_MS, XidTracker } from "./xid.js";

const now = new Date("2026-11-27T12:00:00Z");
const gpu = (index: number, patch: Partial<GpuSample> = {}): GpuSample => ({
  index,
  uuid: `GPU-${index}`,
  name: "NVIDIA H100 80GB HBM3",
  pciBusId: `0000:0${index}:00.0`,
  temperatureCelsius: 40,
  utilizationRatio: 0,
  memoryUsedBytes: 0,
  memoryTotalBytes: 80e9,
  powerWatts: 70,
  ...patch,
});
const listed: ListedGpu[] = [0, 1].map((i) => ({
  index: i,
  uuid: `GPU-${i}`,
  pciBusId: `0000:0${i}:00.0`,
  name: "NVIDIA H100 80GB HBM3",
}));
const reading = (gpus: GpuSample[], patch: Partial<GpuReading> = {}): GpuReading => ({
  gpus,
  failure: null,
  problems: [],
  at: now.toISOString(),
  ...patch,
});
const xid = (code: number, action: XidEvent["action"], gpuIndex: number | null = 0): XidEvent => ({
  at: now.toISOString(),
  xid: code,
  kind: "xid",
  pciBusId: gpuIndex === null ? null : `0000:0${gpuIndex}:00.0`,
  gpuIndex,
  action,
  raw: `NVRM: Xid (PCI:0000:0${gpuIndex ?? 9}:00): ${code}, ...`,
});

describe("health rules", () => {
  // [name, reading, xids, machine state, reason codes]
  const table: Array<[string, GpuReading, XidEvent[], string, string[]]> = [
    ["all listed GPUs read cleanly", reading([gpu(0), gpu(1)]), [], "healthy", []],
    ["a listed GPU vanished", reading([gpu(0)]), [], "reboot-required", ["GPU_MISSING"]],
    ["a card was swapped", reading([gpu(0), gpu(1, { uuid: "GPU-new" })]), [], "degraded", ["GPU_REPLACED"]],
    [
      "pending row remap",
      reading([gpu(0, { remappedRowsPending: true }), gpu(1)]),
      [],
      "reset-required",
      ["ROW_REMAP_PENDING"],
    ],
    [
      "row remap failed",
      reading([gpu(0, { remappedRowsFailure: true }), gpu(1)]),
      [],
      "failed",
      ["ROW_REMAP_FAILURE"],
    ],
    [
      "pending page retirement",
      reading([gpu(0), gpu(1, { retiredPagesPending: true })]),
      [],
      "reset-required",
      ["PAGE_RETIREMENT_PENDING"],
    ],
    [
      "uncorrected ECC since reset",
      reading([gpu(0, { eccVolatileUncorrected: 2 }), gpu(1)]),
      [],
      "degraded",
      ["ECC_UNCORRECTED"],
    ],
    [
      "hot GPU",
      reading([gpu(0, { temperatureCelsius: 93 }), gpu(1)]),
      [],
      "degraded",
      ["GPU_TEMPERATURE_HIGH"],
    ],
    [
      "null readings are not problems",
      reading([gpu(0, { temperatureCelsius: null, eccVolatileUncorrected: null }), gpu(1)]),
      [],
      "healthy",
      [],
    ],
    ["tenant XID 13 is only counted", reading([gpu(0), gpu(1)]), [xid(13, "restart-app")], "healthy", []],
    ["XID 79", reading([gpu(0), gpu(1)]), [xid(79, "reboot")], "reboot-required", ["XID_79"]],
    ["XID 64", reading([gpu(0), gpu(1)]), [xid(64, "rma")], "failed", ["XID_64"]],
    ["unclassified XID", reading([gpu(0), gpu(1)]), [xid(999, "unknown")], "degraded", ["XID_999"]],
    [
      "truncated output: what was read is not trusted as all",
      reading([gpu(0)], { problems: ["output lists 1 of 2 attached GPUs (truncated?)"] }),
      [],
      "degraded",
      ["GPU_TELEMETRY_INCOMPLETE", "GPU_UNREADABLE"],
    ],
    [
      "nvidia-smi timed out",
      reading([], {
        failure: { kind: "timeout", code: "NVIDIA_SMI_TIMEOUT", message: "hung", evidence: "killed" },
      }),
      [],
      "degraded",
      ["NVIDIA_SMI_TIMEOUT", "GPU_UNREADABLE", "GPU_UNREADABLE"],
    ],
  ];
  for (const [name, r, xids, state, codes] of table) {
    it(name, () => {
      const tracker = new XidTracker();
      for (const x of xids) tracker.record(x, "GPU-0");
      const report = evaluateHealth({ now, listed, reading: r, xids: tracker.current(now, new Map()) });
      expect(report.machine.state).toBe(state);
      expect(report.machine.reasons.map((x) => x.code)).toEqual(codes);
      for (const reason of report.machine.reasons) {
        expect(reason.clearsWhen).toBeTruthy();
        expect(reason.since).toBe(now.toISOString());
      }
      if (state !== "healthy")
        expect(
          report.gpus.some((g) => g.verdict.state !== "healthy") ||
            report.machine.reasons.some((x) => x.gpuIndex === undefined),
        ).toBe(true);
    });
  }

  it("notices NVLink links that went down since listing, and only then", () => {
    const withLinks = listed.map((l) => ({ ...l, nvlinkActiveLinks: 18 }));
    const down = evaluateHealth({
      now,
      listed: withLinks,
      reading: reading([gpu(0), gpu(1)]),
      xids: [],
      nvlinkActiveLinks: { 0: 18, 1: 16 },
    });
    expect(down.machine.reasons.map((r) => [r.code, r.gpuIndex, r.message])).toEqual([
      ["NVLINK_LINKS_DOWN", 1, "GPU 1: 16 of 18 NVLink links active"],
    ]);
    expect(down.machine.state).toBe("degraded");
    const unknown = evaluateHealth({ now, listed: withLinks, reading: reading([gpu(0), gpu(1)]), xids: [] });
    expect(unknown.machine.state).toBe("healthy");
  });

  it("never calls a GPU healthy when nothing could be read", () => {
    const r = evaluateHealth({
      now,
      listed,
      reading: reading([], { problems: ["nvidia-smi printed nothing"] }),
      xids: [],
    });
    expect(r.gpus.map((g) => g.verdict.state)).toEqual(["degraded", "degraded"]);
  });

  it("keeps the first-seen time of a reason across evaluations", () => {
    const first = evaluateHealth({ now, listed, reading: reading([gpu(0)]), xids: [] });
    const later = evaluateHealth({
      now: new Date(now.getTime() + 60_000),
      listed,
      reading: reading([gpu(0)]),
      xids: [],
      previous: first,
    });
    expect(later.machine.reasons[0]!.since).toBe(now.toISOString());
    expect(later.machine.at).not.toBe(first.machine.at);
  });
});

describe("XID clear conditions", () => {
  it("a reset-class XID clears an hour after its last occurrence; a reboot-class one does not", () => {
    const t = new XidTracker();
    t.record(xid(119, "reset-gpu"), "GPU-0");
    t.record(xid(79, "reboot", 1), "GPU-1");
    const later = new Date(now.getTime() + XID_CLEAR_AFTER_MS + 1000);
    expect(t.current(later, new Map()).map((x) => x.event.xid)).toEqual([79]);
  });
  it("an RMA-class XID clears when another card sits at that address", () => {
    const t = new XidTracker();
    t.record(xid(64, "rma"), "GPU-0");
    expect(t.current(now, new Map([["0000:00:00.0", "GPU-0"]]))).toHaveLength(1);
    expect(t.current(now, new Map([["0000:00:00.0", "GPU-replacement"]]))).toHaveLength(0);
  });
  it("counts repeats of the same XID on the same GPU", () => {
    const t = new XidTracker();
    t.record(xid(119, "reset-gpu"), "GPU-0");
    t.record(xid(119, "reset-gpu"), "GPU-0");
    expect(t.current(now, new Map())[0]!.count).toBe(2);
  });
});

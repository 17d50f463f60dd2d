import type { GpuSample } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { DEFAULT_THERMAL_LIMIT_CELSIUS, gpuSampleReasons } from "./health-gpu.js";

const gpu = (patch: Partial<GpuSample> = {}): GpuSample => ({
  index: 0,
  uuid: "GPU-0",
  name: "NVIDIA H100 80GB HBM3",
  pciBusId: "0000:09:00.0",
  temperatureCelsius: 40,
  utilizationRatio: 0.9,
  memoryUsedBytes: 0,
  memoryTotalBytes: 80e9,
  powerWatts: 600,
  ...patch,
});
const none = (on: string[] = []) =>
  Object.fromEntries(
    [
      "gpu_idle",
      "applications_clocks_setting",
      "sw_power_cap",
      "hw_slowdown",
      "sync_boost",
      "sw_thermal_slowdown",
      "hw_thermal_slowdown",
      "hw_power_brake_slowdown",
      "display_clock_setting",
    ].map((r) => [r, on.includes(r)]),
  );
const codes = (g: GpuSample) => gpuSampleReasons(g).map((r) => r.code);

describe("per-GPU rules: temperature against the GPU's own limits", () => {
  const table: Array<[string, Partial<GpuSample>, string[]]> = [
    ["T.Limit headroom left", { temperatureCelsius: 95, temperatureLimitMarginCelsius: 3 }, []],
    ["T.Limit at the max operating limit", { temperatureLimitMarginCelsius: 0 }, ["GPU_TEMPERATURE_HIGH"]],
    [
      "T.Limit past slowdown, core sensor cool",
      { temperatureCelsius: 70, temperatureLimitMarginCelsius: -3 },
      ["GPU_TEMPERATURE_HIGH"],
    ],
    [
      "absolute max operating 85 (A100), at 86",
      { temperatureCelsius: 86, temperatureMaxOperatingCelsius: 85 },
      ["GPU_TEMPERATURE_HIGH"],
    ],
    [
      "absolute max operating 93 (RTX 3080), at 91",
      { temperatureCelsius: 91, temperatureMaxOperatingCelsius: 93 },
      [],
    ],
    [
      "only a slowdown limit (Quadro P400), at 100",
      { temperatureCelsius: 100, temperatureSlowdownCelsius: 100 },
      ["GPU_TEMPERATURE_HIGH"],
    ],
    [
      "no limit reported: the default applies",
      { temperatureCelsius: DEFAULT_THERMAL_LIMIT_CELSIUS },
      ["GPU_TEMPERATURE_HIGH"],
    ],
    ["no limit reported, below the default", { temperatureCelsius: DEFAULT_THERMAL_LIMIT_CELSIUS - 1 }, []],
    ["no temperature at all", { temperatureCelsius: null }, []],
  ];
  for (const [what, patch, expected] of table) it(what, () => expect(codes(gpu(patch))).toEqual(expected));

  it("says which limit it used and what clears it", () => {
    const [own] = gpuSampleReasons(
      gpu({ temperatureCelsius: 86, temperatureMaxOperatingCelsius: 85, temperatureSlowdownCelsius: 89 }),
    );
    expect(own!.message).toBe(
      "GPU at 86 °C, at or above 85 °C (the GPU's max operating temperature); clocks slow down at 89 °C",
    );
    expect(own!.clearsWhen).toBe("temperature below 85 °C");
    const [fallback] = gpuSampleReasons(gpu({ temperatureCelsius: 92 }));
    expect(fallback!.message).toContain("no limit reported by the GPU; default 90 °C");
    const [tlimit] = gpuSampleReasons(gpu({ temperatureCelsius: 70, temperatureLimitMarginCelsius: -3 }));
    expect(tlimit!.evidence).toBe("temperature.gpu.tlimit=-3 (0 = max operating temperature)");
  });
});

describe("per-GPU rules: clocks event reasons", () => {
  const table: Array<[string, string[] | null, string[]]> = [
    ["nothing active", [], []],
    ["reasons not reported", null, []],
    [
      "idle, power cap, app clocks, sync boost, display: informational",
      ["gpu_idle", "sw_power_cap", "applications_clocks_setting", "sync_boost", "display_clock_setting"],
      [],
    ],
    [
      "HW thermal slowdown (HW Slowdown is set with it)",
      ["hw_slowdown", "hw_thermal_slowdown"],
      ["GPU_THERMAL_SLOWDOWN"],
    ],
    ["SW thermal slowdown", ["sw_thermal_slowdown"], ["GPU_THERMAL_SLOWDOWN"]],
    [
      "power brake (HW Slowdown is set with it)",
      ["hw_slowdown", "hw_power_brake_slowdown"],
      ["GPU_POWER_BRAKE_SLOWDOWN"],
    ],
    ["HW Slowdown with no named cause", ["hw_slowdown"], ["GPU_HW_SLOWDOWN"]],
  ];
  for (const [what, on, expected] of table)
    it(what, () =>
      expect(codes(gpu({ clocksEventReasons: on === null ? null : none(on) }))).toEqual(expected),
    );

  it("names the active reasons as evidence", () => {
    const [r] = gpuSampleReasons(
      gpu({ clocksEventReasons: none(["hw_slowdown", "hw_power_brake_slowdown"]) }),
    );
    expect(r).toMatchObject({
      state: "degraded",
      evidence: "clocks event reasons active: hw_power_brake_slowdown",
      clearsWhen: "nvidia-smi reports hw_power_brake_slowdown not active",
    });
  });
});

describe("per-GPU rules: PCIe link under load", () => {
  const link = (gen: [number | null, number | null], width: [number | null, number | null]) => ({
    pcieLinkGenCurrent: gen[0],
    pcieLinkGenMax: gen[1],
    pcieLinkWidthCurrent: width[0],
    pcieLinkWidthMax: width[1],
  });
  const table: Array<[string, Partial<GpuSample>, string[]]> = [
    ["at its maximum under load", link([5, 5], [16, 16]), []],
    ["generation down under load", link([3, 5], [16, 16]), ["PCIE_LINK_DEGRADED"]],
    ["width down under load", link([5, 5], [8, 16]), ["PCIE_LINK_DEGRADED"]],
    ["generation down while idle (power saving)", { ...link([1, 4], [16, 16]), utilizationRatio: 0 }, []],
    [
      "MIG: no utilisation, not idle",
      { ...link([4, 5], [16, 16]), utilizationRatio: null, clocksEventReasons: none() },
      ["PCIE_LINK_DEGRADED"],
    ],
    [
      "MIG: no utilisation, idle",
      { ...link([4, 5], [16, 16]), utilizationRatio: null, clocksEventReasons: none(["gpu_idle"]) },
      [],
    ],
    ["no utilisation and no reasons: not judged", { ...link([4, 5], [16, 16]), utilizationRatio: null }, []],
    ["max unknown", link([3, null], [16, null]), []],
  ];
  for (const [what, patch, expected] of table) it(what, () => expect(codes(gpu(patch))).toEqual(expected));

  it("shows current, max and load as evidence", () => {
    const [r] = gpuSampleReasons(gpu({ ...link([4, 5], [8, 16]), utilizationRatio: 0.8 }));
    expect(r!.message).toBe("PCIe link below its maximum under load: generation 4 of 5, width x8 of x16");
    expect(r!.evidence).toBe(
      "pcie.link.gen.current=4 max=5, pcie.link.width.current=8 max=16, utilization.gpu=80%",
    );
  });
});

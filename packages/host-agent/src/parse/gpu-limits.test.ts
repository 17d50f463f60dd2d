import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { GpuSample } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { gpuSampleReasons } from "../health-gpu.js";
import { clocksEventReasonsFromMask } from "./gpu-limits.js";
import { type CommandResult, readingFromCsv, readingFromQueryText, readingFromQueryXml } from "./reading.js";

const SMI = new URL("../../testdata/nvidia-smi/", import.meta.url).pathname;
const read = (rel: string) => readFileSync(join(SMI, rel), "utf8");
const ok = (stdout: string): CommandResult => ({ stdout, stderr: "", exitCode: 0, timedOut: false });

function firstGpu(file: string): GpuSample {
  if (file.endsWith(".csv")) {
    const requested = read(file.replace(/\.csv$/, ".cmd"))
      .match(/--query-gpu=(\S+)/)![1]!
      .split(",");
    return readingFromCsv(ok(read(file)), requested).gpus[0]!;
  }
  const reading = file.endsWith(".xml")
    ? readingFromQueryXml(ok(read(file)))
    : readingFromQueryText(ok(read(file)));
  return reading.gpus[0]!;
}
const active = (g: GpuSample) =>
  g.clocksEventReasons === null || g.clocksEventReasons === undefined
    ? null
    : Object.entries(g.clocksEventReasons)
        .filter(([, on]) => on)
        .map(([r]) => r);

// [fixture, PCIe gen current/max, width current/max, active clocks event reasons,
//  max operating / slowdown / shutdown °C, T.Limit headroom °C, health codes from these fields]
type Row = [
  string,
  [number, number],
  [number, number],
  string[],
  [number | null, number | null, number | null],
  number | null,
  string[],
];
const TABLE: Row[] = [
  // CSV (`clocks_event_reasons.active` is a hex mask; `temperature.gpu.tlimit` the headroom).
  [
    "query-gpu-csv/linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle.csv",
    [1, 3],
    [16, 16],
    ["sw_power_cap"],
    [null, null, null],
    null,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__load.csv",
    [3, 3],
    [16, 16],
    [],
    [null, null, null],
    null,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__idle.csv",
    [1, 4],
    [16, 16],
    ["gpu_idle"],
    [null, null, null],
    null,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.csv",
    [5, 5],
    [16, 16],
    ["gpu_idle"],
    [null, null, null],
    46,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv",
    [5, 5],
    [16, 16],
    [],
    [null, null, null],
    26,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-h200-mig__590.48.01__load.csv",
    [5, 5],
    [16, 16],
    [],
    [null, null, null],
    46,
    [],
  ],
  [
    "query-gpu-csv/linux-x86_64__nvidia-l40s__595.80__load.csv",
    [4, 4],
    [16, 16],
    [],
    [null, null, null],
    34,
    [],
  ],
  // `-q` text: absolute limits on older/consumer parts, T.Limit form on data-centre parts.
  [
    "query-text/gpud__nvidia-smi-query.535.129.03.out.0.valid.a10.txt",
    [4, 4],
    [16, 16],
    ["gpu_idle"],
    [91, 98, 101],
    null,
    [],
  ],
  [
    "query-text/gpud__nvidia-smi-query.560.35.03.out.0.valid.txt",
    [1, 3],
    [16, 16],
    ["gpu_idle"],
    [91, 97, 100],
    null,
    [],
  ],
  [
    "query-text/gpud__nvidia-smi-query.535.154.05.out.0.valid.4090.txt",
    [1, 4],
    [16, 16],
    ["gpu_idle"],
    [null, null, null],
    52,
    [],
  ],
  // The recorded 8× H100 (also the simulated source) has the power brake asserted on every GPU.
  [
    "query-text/gpud__nvidia-smi-query.535.161.08.out.0.valid.txt",
    [5, 5],
    [16, 16],
    ["hw_slowdown", "hw_power_brake_slowdown"],
    [null, null, null],
    56,
    ["GPU_POWER_BRAKE_SLOWDOWN"],
  ],
  ["captures/linux-x86_64__nvidia-l40s__595.80.txt", [4, 4], [16, 16], [], [null, null, null], 24, []],
  // `-q -x`: both the ≤525 `clocks_throttle_reasons` and the ≥535 `clocks_event_reasons` schemas.
  ["xml/telegraf__a100-sxm4-v12.xml", [4, 4], [16, 16], [], [85, 89, 92], null, []],
  ["xml/telegraf__rtx-3080-v13.xml", [4, 4], [16, 16], [], [93, 95, 98], null, []],
  ["xml/telegraf__quadro-p400.xml", [1, 3], [16, 16], ["gpu_idle"], [null, 100, 103], null, []],
  ["xml/telegraf__pro-6000-maxq-blackwell-v13.xml", [1, 4], [16, 16], [], [null, null, null], 68, []],
  // An idle T4 whose link reads x8 of x16: not judged while idle (the link may down-train).
  ["xml/telegraf__tesla-t4.xml", [3, 3], [8, 16], [], [85, 93, 96], null, []],
];

describe("PCIe link, clocks event reasons and temperature limits: recorded outputs", () => {
  for (const [file, gen, width, reasons, [maxOp, slowdown, shutdown], margin, codes] of TABLE) {
    it(`reads ${file}`, () => {
      const g = firstGpu(file);
      expect([g.pcieLinkGenCurrent, g.pcieLinkGenMax]).toEqual(gen);
      expect([g.pcieLinkWidthCurrent, g.pcieLinkWidthMax]).toEqual(width);
      expect(active(g)).toEqual(reasons);
      // Every one of the nine reasons is reported (supported mask 0x1FF or a full section).
      expect(Object.keys(g.clocksEventReasons ?? {})).toHaveLength(9);
      expect(g.temperatureMaxOperatingCelsius).toBe(maxOp);
      expect(g.temperatureSlowdownCelsius).toBe(slowdown);
      expect(g.temperatureShutdownCelsius).toBe(shutdown);
      expect(g.temperatureLimitMarginCelsius).toBe(margin);
      const fromTheseFields = gpuSampleReasons(g)
        .map((r) => r.code)
        .filter((c) => c.startsWith("PCIE") || c.startsWith("GPU_"));
      expect(fromTheseFields).toEqual(codes);
    });
  }

  it("keeps absent values absent: [N/A] limits, no reasons section, no mask", () => {
    // The RTX 2080 SUPER CSV prints temperature.gpu.tlimit as [N/A].
    expect(
      firstGpu("query-gpu-csv/linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__load.csv")
        .temperatureLimitMarginCelsius,
    ).toBeNull();
    // The A10 `-q` prints "GPU T.Limit Temp : N/A" and absolute limits: no headroom is made up.
    expect(
      firstGpu("query-text/gpud__nvidia-smi-query.535.129.03.out.0.valid.a10.txt")
        .temperatureLimitMarginCelsius,
    ).toBeNull();
    expect(clocksEventReasonsFromMask("[N/A]", "0x1FF")).toBeNull();
    expect(clocksEventReasonsFromMask("[Not Supported]")).toBeNull();
  });

  it("lists only the reasons the supported mask names", () => {
    expect(clocksEventReasonsFromMask("0x0000000000000048", "0x000000000000004C")).toEqual({
      sw_power_cap: false,
      hw_slowdown: true,
      hw_thermal_slowdown: true,
    });
  });
});

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseGpuBurn } from "./gpu-burn.js";
import { parseStressNg, parseStressNgYaml } from "./stress-ng.js";

const BURN = new URL("../../testdata/burn/", import.meta.url).pathname;
const read = (rel: string) => readFileSync(join(BURN, rel), "utf8");

describe("gpu-burn: every fixture (the exit status is 0 even for FAULTY GPUs)", () => {
  // file → [passed, GPUs seen, a problem that must be named]
  const table: Record<string, [boolean, number, RegExp | null]> = {
    "superbench__gpu_burn-8xA100-ok.log": [true, 8, null],
    "from-issues/wilicc-gpu-burn-12__16gpu-faulty-exit0.log": [false, 16, /GPU 1: FAULTY/],
    "from-issues/wilicc-gpu-burn-69__8gpu-died-no-clients.log": [false, 8, /aborted/],
    "from-issues/wilicc-gpu-burn-124__no-progress-still-ok.log": [false, 1, /no measurable work/],
    "from-issues/wilicc-gpu-burn-124__a500-short-run.log": [false, 1, /no `Tested N GPUs` verdict/],
    "from-issues/wilicc-gpu-burn-48__2x1080-progress.log": [false, 2, /no `Tested N GPUs` verdict/],
  };
  it("covers every file", () => {
    const all = [
      ...readdirSync(join(BURN, "gpu-burn")).filter((f) => f.endsWith(".log")),
      ...readdirSync(join(BURN, "gpu-burn/from-issues")).map((f) => `from-issues/${f}`),
    ];
    expect(all.sort()).toEqual(Object.keys(table).sort());
  });
  for (const [file, [passed, count, problem]] of Object.entries(table)) {
    it(`judges ${file}`, () => {
      const r = parseGpuBurn(read(`gpu-burn/${file}`));
      expect(r.passed).toBe(passed);
      expect(r.gpus).toHaveLength(count);
      if (problem) expect(r.problems.join("\n")).toMatch(problem);
      else expect(r.problems).toEqual([]);
    });
  }
  it("reads work, temperatures and per-GPU errors", () => {
    const ok = parseGpuBurn(read("gpu-burn/superbench__gpu_burn-8xA100-ok.log"));
    expect(
      ok.gpus.every(
        (g) => g.verdict === "OK" && (g.maxTemperatureCelsius ?? 0) > 30 && (g.maxGflops ?? 0) > 0,
      ),
    ).toBe(true);
    const two = parseGpuBurn(read("gpu-burn/from-issues/wilicc-gpu-burn-48__2x1080-progress.log"));
    expect(two.gpus.map((g) => g.maxTemperatureCelsius)).toEqual([63, 83]);
    const faulty = parseGpuBurn(read("gpu-burn/from-issues/wilicc-gpu-burn-12__16gpu-faulty-exit0.log"));
    expect(faulty.gpus.filter((g) => g.errorsSeen).map((g) => g.index)).toEqual([1, 2, 3, 4, 9, 11, 14]);
    const died = parseGpuBurn(read("gpu-burn/from-issues/wilicc-gpu-burn-69__8gpu-died-no-clients.log"));
    expect(died.gpus.every((g) => g.died)).toBe(true);
  });
});

describe("stress-ng: every recorded log", () => {
  const table: Record<string, [boolean, string[], RegExp | null]> = {
    "cpu-matrixprod-2w-5s.log": [true, ["cpu"], null],
    "vm-256M-verify-5s.log": [true, ["vm"], null],
    "hdd-64M-5s.log": [true, ["hdd"], null],
    "mixed-5s.log": [true, ["cpu", "vm", "hdd"], null],
    "hdd-unwritable-path.log": [false, ["hdd"], /exited with 2 \(one or more stressors failed\)/],
    "bad-option.log": [false, ["cpu"], /exited with 1 \(bad options/],
  };
  it("covers every log", () => {
    const all = readdirSync(join(BURN, "stress-ng/recorded-here")).filter((f) => f.endsWith(".log"));
    expect(all.sort()).toEqual(Object.keys(table).sort());
  });
  for (const [file, [passed, stressors, problem]] of Object.entries(table)) {
    it(`judges ${file}`, () => {
      const text = read(`stress-ng/recorded-here/${file}`);
      const exit = Number(/^exit=(\d+)$/m.exec(text)![1]);
      const r = parseStressNg(text, exit, stressors);
      expect(r.passed).toBe(passed);
      if (problem) expect(r.problems.join("\n")).toMatch(problem);
      if (passed) expect(r.metrics.map((m) => m.stressor)).toEqual(stressors);
    });
  }
  it("fails a run whose exit status is 0 but which printed a fail line", () => {
    const text = read("stress-ng/recorded-here/hdd-unwritable-path.log");
    expect(parseStressNg(text, 0, ["hdd"]).passed).toBe(false);
  });
  it("reads the metrics row", () => {
    const r = parseStressNg(read("stress-ng/recorded-here/cpu-matrixprod-2w-5s.log"), 0, ["cpu"]);
    expect(r.metrics[0]).toEqual({
      stressor: "cpu",
      bogoOps: 26342,
      realTimeSeconds: 5,
      bogoOpsPerSecond: 5266.93,
    });
  });
  const yamlTable: Record<string, string[]> = {
    "recorded-here/cpu-matrixprod-2w-5s.yaml": ["cpu"],
    "recorded-here/vm-256M-verify-5s.yaml": ["vm"],
    "recorded-here/hdd-64M-5s.yaml": ["hdd"],
    "recorded-here/mixed-5s.yaml": ["cpu", "vm", "hdd"],
    "virtualclient/StressNgCpuExample.yaml": ["cpu"],
    "virtualclient/StressNgCpuVmExample.yaml": ["cpu", "vm"],
  };
  it("covers every YAML file", () => {
    const all = ["recorded-here", "virtualclient"].flatMap((d) =>
      readdirSync(join(BURN, "stress-ng", d))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => `${d}/${f}`),
    );
    expect(all.sort()).toEqual(Object.keys(yamlTable).sort());
  });
  for (const [file, stressors] of Object.entries(yamlTable)) {
    it(`reads the --yaml report ${file} (0.09's unquoted '#' version line included)`, () => {
      const metrics = parseStressNgYaml(read(`stress-ng/${file}`));
      expect(metrics.map((m) => m.stressor)).toEqual(stressors);
      for (const m of metrics) {
        expect(m.bogoOps).toBeGreaterThan(0);
        expect(m.realTimeSeconds).toBeGreaterThan(0);
      }
    });
  }
  it("agrees with the text metrics of the same run", () => {
    const yaml = parseStressNgYaml(read("stress-ng/recorded-here/mixed-5s.yaml"));
    const textRun = parseStressNg(read("stress-ng/recorded-here/mixed-5s.log"), 0, []);
    expect(yaml.map((m) => m.bogoOps)).toEqual(textRun.metrics.map((m) => m.bogoOps));
  });
});

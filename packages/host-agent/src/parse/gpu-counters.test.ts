import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { gpuMetrics } from "../collectors/gpu-metrics.js";
import { type CommandResult, readingFromCsv, readingFromQueryText, readingFromQueryXml } from "./reading.js";

// What dcgm-exporter users look for: corrected ECC, remapped-row counts, PCIe replays, performance
// state, encoder/decoder utilisation — from the recorded outputs in testdata/nvidia-smi (SOURCES.md).
const SMI = new URL("../../testdata/nvidia-smi/", import.meta.url).pathname;
const ok = (rel: string): CommandResult => ({
  stdout: readFileSync(join(SMI, rel), "utf8"),
  stderr: "",
  exitCode: 0,
  timedOut: false,
});
const fields = [
  "pstate",
  "encoderUtilizationRatio",
  "decoderUtilizationRatio",
  "eccVolatileCorrected",
  "eccAggregateCorrected",
  "remappedRowsCorrectable",
  "remappedRowsUncorrectable",
  "pcieReplays",
] as const;

describe("the counters dcgm-exporter users expect, from recorded nvidia-smi output", () => {
  it.each([
    // CSV under load: the L40S encodes at 60 %, ECC and remapping are reported (0).
    [
      "query-gpu-csv/linux-x86_64__nvidia-l40s__595.80__load.csv",
      "csv",
      ["P0", 0.6, 0, 0, 0, 0, 0, undefined],
    ],
    [
      "query-gpu-csv/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv",
      "csv",
      ["P0", 0, 0, 0, 0, 0, 0, undefined],
    ],
    // A GeForce card: no ECC, no row remapping ([N/A] → no value, never a 0).
    [
      "query-gpu-csv/linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05__load.csv",
      "csv",
      ["P2", 0.72, 0, null, null, null, null, undefined],
    ],
    // MIG hides encoder/decoder utilisation.
    [
      "query-gpu-csv/linux-x86_64__nvidia-h100-mig__590.48.01__load.csv",
      "csv",
      ["P0", null, null, 0, 0, null, null, undefined],
    ],
    // -q text: replays since reset per GPU (the simulated 8× H100's GPU 0).
    ["query-text/gpud__nvidia-smi-query.535.161.08.out.0.valid.txt", "text", ["P0", 0, 0, 0, 0, 0, 0, 67]],
    // -q -x (A100, schema v12): DRAM + SRAM correctable summed, the replay counter; encoder N/A.
    ["xml/telegraf__a100-sxm4-v12.xml", "xml", ["P0", null, null, 0, 0, null, null, 0]],
  ] as const)("%s", (file, kind, expected) => {
    const reading =
      kind === "csv"
        ? readingFromCsv(ok(file))
        : kind === "text"
          ? readingFromQueryText(ok(file))
          : readingFromQueryXml(ok(file));
    expect(reading.failure).toBeNull();
    const g = reading.gpus[0]!;
    expect(fields.map((f) => g[f])).toEqual(expected);
  });

  it("reads the PCIe replays of every GPU of the 8× H100 from -q", () => {
    const r = readingFromQueryText(ok("query-text/gpud__nvidia-smi-query.535.161.08.out.0.valid.txt"));
    expect(r.gpus.map((g) => [g.index, g.pcieReplays])).toEqual([
      [0, 67],
      [1, 63],
      [2, 52],
      [3, 43],
      [4, 49],
      [5, 53],
      [6, 82],
      [7, 67],
    ]);
  });

  it("exports them with Prometheus names: replays as a counter, P-state as a number", async () => {
    const registry = new Registry();
    gpuMetrics(registry, false).update(
      readingFromQueryText(ok("query-text/gpud__nvidia-smi-query.535.161.08.out.0.valid.txt")),
    );
    const body = await registry.metrics();
    expect(body).toMatch(/^# TYPE podkit_gpu_pcie_replays_total counter$/m);
    expect(body).toMatch(/^podkit_gpu_pcie_replays_total\{gpu="6",uuid="[^"]+"\} 82$/m);
    expect(body).toMatch(/^podkit_gpu_performance_state\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_ecc_corrected_volatile_errors\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_ecc_corrected_aggregate_errors\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_remapped_rows_correctable\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_remapped_rows_uncorrectable\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_encoder_utilization_ratio\{gpu="0",uuid="[^"]+"\} 0$/m);
    expect(body).toMatch(/^podkit_gpu_decoder_utilization_ratio\{gpu="0",uuid="[^"]+"\} 0$/m);
  });

  it("counts each GPU's energy as its power draw integrated between readings", async () => {
    const registry = new Registry();
    const metrics = gpuMetrics(registry, false);
    const first = readingFromQueryText(ok("query-text/gpud__nvidia-smi-query.535.161.08.out.0.valid.txt"));
    const watts = first.gpus[0]?.powerWatts as number;
    expect(watts).toBeGreaterThan(0);
    const at = Date.parse(first.at);
    metrics.update(first);
    metrics.update({ ...first, at: new Date(at + 10_000).toISOString() });
    // a stale reading standing in for a late run adds nothing
    metrics.update({
      ...first,
      at: new Date(at + 20_000).toISOString(),
      stale: { reason: "slow", since: first.at },
    });
    const body = await registry.metrics();
    expect(body).toMatch(/^# TYPE podkit_gpu_energy_joules_total counter$/m);
    const line = body.split("\n").find((l) => l.startsWith('podkit_gpu_energy_joules_total{gpu="0"'));
    expect(Number(line?.split(" ")[1])).toBeCloseTo(watts * 10, 6);
  });
});

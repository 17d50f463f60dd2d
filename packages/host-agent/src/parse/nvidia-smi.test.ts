import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { evaluateHealth } from "../health.js";
import { captureSection, parseCapture } from "./capture.js";
import { gpuSampleFromCsv } from "./gpu-sample.js";
import { classifyNvidiaSmiOutput } from "./nvidia-smi-errors.js";
import { parseHelpQueryGpu, parseQueryGpuCsv } from "./query-gpu-csv.js";
import { parseQueryXml } from "./query-xml.js";
import { type CommandResult, readingFromCsv, readingFromQueryText, readingFromQueryXml } from "./reading.js";
import { parseSmiTable } from "./smi-table.js";
import { parseNvlinkStatus, parseTopoMatrix } from "./topo.js";

const SMI = new URL("../../testdata/nvidia-smi/", import.meta.url).pathname;
const read = (rel: string) => readFileSync(join(SMI, rel), "utf8");
const files = (dir: string, suffix = "") =>
  readdirSync(join(SMI, dir))
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f));
const ok = (stdout: string): CommandResult => ({ stdout, stderr: "", exitCode: 0, timedOut: false });
const MiB = 1024 * 1024;

describe("query-gpu CSV: every recorded capture", () => {
  // [file, GPU name, temperature, memory total MiB, power W (null = absent), utilization ratio (null = absent)]
  const table: Array<[string, string, number | null, number, number | null, number | null]> = [
    [
      "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle.csv",
      "NVIDIA H100 80GB HBM3",
      41,
      81559,
      69.85,
      0,
    ],
    [
      "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv",
      "NVIDIA H100 80GB HBM3",
      59,
      81559,
      631.95,
      1,
    ],
    // MIG mode: utilization.gpu is [N/A], so the ratio must be null, not 0.
    ["linux-x86_64__nvidia-h100-mig__590.48.01__load.csv", "NVIDIA H100 80GB HBM3", 53, 81559, 433.78, null],
  ];
  for (const f of files("query-gpu-csv", ".csv").filter(
    (f) => !f.includes("/mock/") && !f.includes("from-issues"),
  )) {
    it(`parses ${f} into one GPU with nothing made up`, () => {
      const csv = read(f);
      const requested = read(f.replace(/\.csv$/, ".cmd"))
        .match(/--query-gpu=(\S+)/)![1]!
        .split(",");
      const reading = readingFromCsv(ok(csv), requested);
      expect(reading.problems).toEqual([]);
      expect(reading.failure).toBeNull();
      expect(reading.gpus).toHaveLength(1);
      const g = reading.gpus[0]!;
      expect(g.uuid).toMatch(/^GPU-/);
      expect(g.pciBusId).toMatch(/^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.\d$/);
      // Absent cells stay null: every field whose CSV cell is [N/A] is null in the sample.
      const row = parseQueryGpuCsv(csv, requested).rows[0]!;
      if (row.cells["temperature.memory"] === null) expect(g.memoryTemperatureCelsius).toBeNull();
      if (row.cells["utilization.gpu"] === null) expect(g.utilizationRatio).toBeNull();
      if (row.cells["remapped_rows.pending"] === null) expect(g.remappedRowsPending).toBeNull();
      const expected = table.find(([name]) => f.endsWith(name));
      if (expected) {
        const [, name, temp, totalMiB, power, util] = expected;
        expect(g.name).toBe(name);
        if (temp !== null) expect(g.temperatureCelsius).toBe(temp);
        expect(g.memoryTotalBytes).toBe(totalMiB * MiB);
        if (power === null) expect(g.powerWatts).toBeNull();
        else expect(g.powerWatts).toBeCloseTo(power, 2);
        if (util === null) expect(g.utilizationRatio).toBeNull();
        else expect(g.utilizationRatio).toBeCloseTo(util, 5);
      }
    });
  }

  // nvidia_gpu_exporter's own exposition of the same captures: our values must agree, and where it
  // has no series (utilization.gpu is [N/A] under MIG) we must have null, not 0.
  for (const [capture, reference] of [
    ["linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01", "nvidia_gpu_exporter__h100-80gb-hbm3__load.metrics"],
    ["linux-x86_64__nvidia-h100-mig__590.48.01", "nvidia_gpu_exporter__h100-mig__load.metrics"],
  ] as const) {
    it(`matches nvidia_gpu_exporter's reading of ${capture} (reference/${reference})`, () => {
      const f = `query-gpu-csv/${capture}__load.csv`;
      const requested = read(f.replace(".csv", ".cmd"))
        .match(/--query-gpu=(\S+)/)![1]!
        .split(",");
      const g = readingFromCsv(ok(read(f)), requested).gpus[0]!;
      const ref = read(`reference/${reference}`);
      const value = (metric: string) => {
        const m = new RegExp(`^${metric}\\{[^}]*\\} (\\S+)$`, "m").exec(ref);
        return m ? Number(m[1]) : null;
      };
      expect(g.temperatureCelsius).toBe(value("nvidia_smi_temperature_gpu"));
      expect(g.powerWatts).toBeCloseTo(value("nvidia_smi_power_draw_watts")!, 5);
      expect(g.memoryTotalBytes).toBe(value("nvidia_smi_memory_total_bytes"));
      expect(g.smClockHz).toBe(value("nvidia_smi_clocks_current_sm_clock_hz"));
      expect(g.utilizationRatio).toBe(value("nvidia_smi_utilization_gpu_ratio"));
    });
  }

  it("reads noheader/nounits output with the requested field list (8× TITAN X)", () => {
    const f = "query-gpu-csv/from-issues/wookayin-gpustat-5__8x-titanx__noheader-nounits";
    const requested = read(`${f}.cmd`)
      .match(/--query-gpu=(\S+)/)![1]!
      .split(",");
    const rows = parseQueryGpuCsv(read(`${f}.csv`), requested).rows;
    expect(rows).toHaveLength(8);
    expect(rows.map((r) => r.cells.index)).toEqual(["0", "1", "2", "3", "4", "5", "6", "7"]);
    expect(rows[1]!.cells["memory.used"]).toBe("10032");
    // Without a PCI bus id the row cannot be matched to a listed GPU: no sample is made from it.
    expect(rows.map((r) => gpuSampleFromCsv(r))).toEqual(new Array(8).fill(null));
  });

  it("turns [Not Supported] into null, not 0 (gpustat mock)", () => {
    const requested = [
      "index",
      "uuid",
      "name",
      "temperature.gpu",
      "utilization.gpu",
      "memory.used",
      "memory.total",
    ];
    const rows = parseQueryGpuCsv(
      read("query-gpu-csv/mock/gpustat-test-902f9cd__3x-titanx-not-supported__noheader.csv"),
      requested,
    ).rows;
    expect(rows.map((r) => r.cells["utilization.gpu"])).toEqual(["76", "0", null]);
  });

  it("refuses to guess column names for headerless output with an unknown field list", () => {
    const csv = read(
      "query-gpu-csv/from-issues/plambe-zabbix-nvidia-smi-multi-gpu-17__rtx3080-na-row__noheader.csv",
    );
    const parsed = parseQueryGpuCsv(csv, ["index", "uuid", "name"]);
    expect(parsed.rows).toHaveLength(0);
    expect(parsed.problems.join()).toMatch(/row 1 has 27 cells, expected 3/);
  });

  it("drops a truncated row and never reports it as a GPU", () => {
    const f = "query-gpu-csv/linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load.csv";
    const requested = read(f.replace(".csv", ".cmd"))
      .match(/--query-gpu=(\S+)/)![1]!
      .split(",");
    const csv = read(f);
    const reading = readingFromCsv(ok(csv.slice(0, Math.floor(csv.length * 0.8))), requested);
    expect(reading.gpus).toHaveLength(0);
    expect(reading.problems.join()).toMatch(/truncated/);
    expect(evaluateHealth({ now: new Date(), listed: null, reading, xids: [] }).machine.state).not.toBe(
      "healthy",
    );
  });
});

describe("--help-query-gpu field discovery", () => {
  for (const f of files("captures", ".txt")) {
    it(`finds the queryable fields in ${f}`, () => {
      const help = captureSection(parseCapture(read(f)), "capabilities :: help-query-gpu")!;
      const fields = parseHelpQueryGpu(help.output);
      expect(fields).toContain("temperature.gpu");
      expect(fields).toContain("uuid");
      const derived = captureSection(
        parseCapture(read(f)),
        "capabilities :: query-gpu field list (derived, used for query-gpu above)",
      );
      if (derived) for (const d of derived.output.trim().split("\n")) expect(fields).toContain(d.trim());
    });
  }
});

describe("nvidia-smi -q text: every fixture", () => {
  // [file, complete GPUs, problems?, a check]
  const table: Array<[string, number, boolean, (r: ReturnType<typeof readingFromQueryText>) => void]> = [
    [
      "gpud__nvidia-smi-query.535.161.08.out.0.valid.txt",
      8,
      false,
      (r) => {
        expect(r.gpus.every((g) => g.name === "NVIDIA H100 80GB HBM3")).toBe(true);
        expect(r.gpus[0]!.temperatureCelsius).toBe(29);
        expect(r.gpus[0]!.powerWatts).toBeCloseTo(67.74, 2);
        expect(r.gpus[0]!.remappedRowsPending).toBe(false);
        expect(r.cudaVersion).toBe("12.2");
      },
    ],
    [
      "gpud__nvidia-smi-query.535.183.01.out.0.valid.txt",
      8,
      false,
      (r) => expect(r.driverVersion).toBe("535.183.01"),
    ],
    [
      "gpud__nvidia-smi-query.535.183.01.out.0.invalid.txt",
      0,
      true,
      (r) => expect(r.problems.join()).toMatch(/1 of 8/),
    ],
    [
      "gpud__nvidia-smi-query.535.154.05.out.0.valid.4090.txt",
      8,
      false,
      (r) => expect(r.gpus[0]!.name).toMatch(/4090/),
    ],
    ["gpud__nvidia-smi-query.535.154.05.out.3.valid.txt", 8, false, (r) => expect(r.gpus).toHaveLength(8)],
    [
      "gpud__nvidia-smi-query.535.129.03.out.0.valid.a10.txt",
      1,
      false,
      (r) => {
        expect(r.gpus[0]!.remappedRowsPending).toBe(true);
        expect(r.gpus[0]!.remappedRowsFailure).toBe(false);
      },
    ],
    [
      "gpud__nvidia-smi-query.560.35.03.out.0.valid.txt",
      1,
      false,
      (r) => {
        expect(r.gpus[0]!.remappedRowsPending).toBeNull();
        expect(r.gpus[0]!.name).toMatch(/TITAN V/);
      },
    ],
  ];
  it("covers every file in query-text/", () => {
    expect(
      files("query-text")
        .map((f) => f.split("/").pop())
        .sort(),
    ).toEqual(table.map(([f]) => f).sort());
  });
  for (const [file, count, hasProblems, check] of table) {
    it(`reads ${file}`, () => {
      const r = readingFromQueryText(ok(read(`query-text/${file}`)));
      expect(r.gpus).toHaveLength(count);
      expect(r.problems.length > 0).toBe(hasProblems);
      check(r);
      const health = evaluateHealth({ now: new Date(), listed: null, reading: r, xids: [] });
      if (hasProblems) expect(health.machine.state).not.toBe("healthy");
      if (file.includes("a10")) expect(health.gpus[0]!.verdict.state).toBe("reset-required");
    });
  }
});

describe("nvidia-smi -q -x XML: every fixture", () => {
  for (const f of files("xml", ".xml")) {
    it(`reads ${f}`, () => {
      const r = readingFromQueryXml(ok(read(f)));
      expect(r.gpus.length).toBeGreaterThan(0);
      for (const g of r.gpus) {
        expect(g.uuid).toMatch(/^GPU-/);
        expect(g.temperatureCelsius).toBeGreaterThan(0);
        expect(g.memoryTotalBytes).toBeGreaterThan(0);
      }
      if (f.includes("dual_a5000")) expect(r.gpus).toHaveLength(2);
      if (f.includes("a100")) {
        expect(parseQueryXml(read(f)).gpus[0]!.migDevices).toHaveLength(4);
        expect(r.gpus[0]!.migMode).toBe("Enabled");
        // telegraf kept one <gpu> of the 4 attached: that is incomplete, not healthy.
        expect(r.problems.join()).toMatch(/1 of 4/);
      } else expect(r.problems).toEqual([]);
      if (f.includes("3090-v13")) expect(r.gpus[0]!.powerWatts).toBeCloseTo(35.15, 2);
    });
  }
  it("reports a cut-off document instead of half a GPU", () => {
    const xml = read("xml/telegraf__dual_a5000-v13.xml");
    const r = readingFromQueryXml(ok(xml.slice(0, Math.floor(xml.length * 0.7))));
    expect(r.gpus).toHaveLength(0);
    expect(r.problems.join()).toMatch(/not well-formed/);
  });
});

describe("nvidia-smi error texts", () => {
  const table: Record<string, [string | null, string | null]> = {
    "gpud__nvidia-smi__unknown-error__gpu0000-91-00.txt": ["gpu-lost", "0000:91:00.0"],
    "from-issues/marian-nmt-marian-251__gpu-is-lost.txt": ["gpu-lost", "0000:03:00.0"],
    "from-issues/xxd3vin-workspace-19__unknown-error.txt": ["gpu-lost", "0000:0b:00.0"],
    "from-issues/wookayin-gpustat-125__nvidia-smi-L-unknown-error-lowercase.txt": [
      "gpu-lost",
      "0000:08:00.0",
    ],
    "from-issues/zzzhouuu-truenas-nvidia-drivers-19__nvml-mismatch.txt": ["driver-mismatch", null],
    "from-issues/lyulyul-shine-cluster-30__nvml-mismatch-legacy.txt": ["driver-mismatch", null],
    "from-issues/plambe-zabbix-nvidia-smi-multi-gpu-17__invalid-field.txt": ["invalid-field", null],
    // Not nvidia-smi output: context files of the mismatch incidents.
    "from-issues/lyulyul-shine-cluster-30__apt-history-unattended-upgrade.txt": [null, null],
    "from-issues/zzzhouuu-truenas-nvidia-drivers-19__proc-driver-nvidia-version.txt": [null, null],
  };
  const all = [...files("errors", ".txt"), ...files("errors/from-issues", ".txt")].map((f) =>
    f.replace(/^errors\//, ""),
  );
  it("covers every file in errors/", () => expect(all.sort()).toEqual(Object.keys(table).sort()));
  for (const [file, [kind, bus]] of Object.entries(table)) {
    it(`classifies ${file}`, () => {
      const out = read(`errors/${file}`);
      const f = classifyNvidiaSmiOutput(out);
      expect(f?.kind ?? null).toBe(kind);
      if (bus) expect(f?.pciBusId).toBe(bus);
      if (file.includes("truenas") && kind) expect(f?.nvmlVersion).toBe("580.178");
      if (kind) {
        const reading = readingFromCsv({
          stdout: out,
          stderr: "",
          exitCode: kind === "gpu-lost" ? 15 : 9,
          timedOut: false,
        });
        const listed = [{ index: 0, uuid: "GPU-x", pciBusId: bus ?? "0000:01:00.0", name: "GPU" }];
        const health = evaluateHealth({ now: new Date(), listed, reading, xids: [] });
        expect(health.machine.state).not.toBe("healthy");
        expect(health.gpus[0]!.verdict.state).not.toBe("healthy");
        if (kind !== "invalid-field") expect(health.machine.state).toBe("reboot-required");
      }
    });
  }
});

describe("topology and NVLink", () => {
  for (const f of files("topo", "__topo-m.txt")) {
    it(`reads ${f}`, () => {
      const m = parseTopoMatrix(read(f));
      if (f.startsWith("topo/windows")) expect(m).toBeNull();
      else {
        expect(m!.devices).toEqual(["GPU0"]);
        expect(m!.links.GPU0!.GPU0).toBe("X");
      }
    });
  }
  for (const f of [...files("topo", "__nvlink-s.txt"), "topo/gpud__nvidia-smi.nvlink.status.a100.txt"]) {
    it(`reads ${f}`, () => {
      const s = parseNvlinkStatus(read(f));
      if (/mig|l40s|rtx|windows/.test(f))
        expect(s.unsupported ?? Object.values(s.gpus).flat().length === 0).toBeTruthy();
      if (f.includes("h100-80gb")) expect(s.gpus[0]!.filter((l) => l !== null)).toHaveLength(18);
      if (f.includes("a100")) {
        expect(Object.keys(s.gpus)).toHaveLength(8);
        expect(s.gpus[7]).toEqual(new Array(12).fill(25));
      }
    });
  }
});

describe("default table", () => {
  it("counts the 8 H100s", () => {
    const t = parseSmiTable(read("table/gpud__nvidia-smi.550.90.07.out.0.valid.txt"));
    expect(t.gpus).toHaveLength(8);
    expect(t.driverVersion).toBe("550.90.07");
    expect(t.gpus.every((g) => g.errorCells.length === 0)).toBe(true);
  });
  it("spots ERR! in the fan column", () => {
    const t = parseSmiTable(read("table/gpud__nvidia-smi.525.125.06.out.0.valid.txt"));
    expect(t.gpus).toHaveLength(1);
    expect(t.gpus[0]!.errorCells[0]).toMatch(/^ERR!/);
  });
});

describe("capture sections", () => {
  for (const f of files("captures", ".txt")) {
    it(`splits ${f} and its CSV section reads like the extracted fixture`, () => {
      const sections = parseCapture(read(f));
      const load = captureSection(sections, "load :: query-gpu (csv, what the exporter parses)")!;
      const base = f.replace("captures/", "query-gpu-csv/").replace(/\.txt$/, "__load.csv");
      expect(load.output.trim()).toBe(read(base).trim());
      const topo = captureSection(sections, "capabilities :: topo -m")!;
      expect(topo.exitCode).toBe(f.includes("windows") ? 255 : 0);
    });
  }
});

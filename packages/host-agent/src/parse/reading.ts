import type { GpuSample } from "@podkit/core";
import type { GpuReading } from "../health.js";
import { gpuSampleFromCsv, gpuSampleFromText, gpuSampleFromXml } from "./gpu-sample.js";
import { classifyNvidiaSmiOutput, type NvidiaSmiFailure } from "./nvidia-smi-errors.js";
import { parseQueryGpuCsv } from "./query-gpu-csv.js";
import { parseQueryText } from "./query-text.js";
import { parseQueryXml } from "./query-xml.js";
import type { TopologyMatrix } from "./topo.js";

/** What running a command gave: the collector fills this, tests build it from fixtures. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  /** Set when the command could not start (ENOENT …). */
  spawnError?: string;
}

/** What CSV lacks, read every few cycles: NVLink state, MIG instances, the topology matrix. */
export interface GpuExtras {
  /** GPU index → active NVLink links and their speeds (bytes/s). Absent when NVLink is not reported. */
  nvlink: Record<number, { activeLinks: number; linkSpeedsBytesPerSecond: Array<number | null> }>;
  /** Why NVLink is not reported ("not supported in MIG mode", "no NVLink"), if so. */
  nvlinkUnsupported: string | null;
  /** PCI bus id → number of MIG devices. */
  migInstances: Record<string, number>;
  topology: TopologyMatrix | null;
  /** PCI bus id → PCIe replays since the last GPU reset (not in `--query-gpu`). */
  pcieReplays?: Record<string, number>;
}

export interface GpuReadingWithMeta extends GpuReading {
  driverVersion: string | null;
  cudaVersion: string | null;
  extras?: GpuExtras;
  /** Set when this is the last complete reading standing in for runs that did not finish in time. */
  stale?: { reason: string; since: string };
}

function commandFailure(result: CommandResult, what: string): NvidiaSmiFailure | null {
  if (result.spawnError) {
    return {
      kind: "not-installed",
      code: "NVIDIA_SMI_UNAVAILABLE",
      message: `cannot run ${what}: ${result.spawnError}`,
      evidence: result.spawnError,
    };
  }
  if (result.timedOut) {
    return {
      kind: "timeout",
      code: "NVIDIA_SMI_TIMEOUT",
      message: `${what} did not answer in time (a hung nvidia-smi often means a wedged GPU)`,
      evidence: `${what} killed after timeout`,
    };
  }
  const known = classifyNvidiaSmiOutput(result.stdout, result.stderr);
  if (known) return known;
  if (result.exitCode !== 0) {
    const firstLine = `${result.stderr}\n${result.stdout}`.split("\n").find((l) => l.trim() !== "") ?? "";
    return {
      kind: "unknown",
      code: "NVIDIA_SMI_FAILED",
      message: `${what} exited with status ${result.exitCode}: ${firstLine.trim()}`,
      evidence: firstLine.trim(),
    };
  }
  return null;
}

const now = () => new Date().toISOString();

/** `--query-gpu … --format=csv` → a reading. Rows that do not parse fully are dropped and reported. */
export function readingFromCsv(result: CommandResult, requested?: readonly string[]): GpuReadingWithMeta {
  const failure = commandFailure(result, "nvidia-smi --query-gpu");
  const reading: GpuReadingWithMeta = {
    gpus: [],
    failure,
    problems: [],
    at: now(),
    driverVersion: null,
    cudaVersion: null,
  };
  // A lost GPU makes some drivers print the error line and still list the other GPUs.
  const csvText = result.stdout
    .split(/\r?\n/)
    .filter((l) => !/Unable to determine the device handle|Failed to initialize NVML/.test(l))
    .join("\n");
  if (failure && failure.kind !== "gpu-lost") return reading;
  if (csvText.trim() === "") {
    if (!failure) reading.problems.push("nvidia-smi printed nothing");
    return reading;
  }
  const parsed = parseQueryGpuCsv(csvText, requested);
  reading.problems.push(...parsed.problems);
  for (const row of parsed.rows) {
    const sample = gpuSampleFromCsv(row);
    if (sample) reading.gpus.push(sample);
    else reading.problems.push("a row without index, UUID or PCI bus id was ignored");
    reading.driverVersion ??= row.cells.driver_version ?? null;
  }
  return reading;
}

/** `nvidia-smi -q` → a reading; blocks cut off before their end are dropped (never half a GPU). */
export function readingFromQueryText(result: CommandResult): GpuReadingWithMeta {
  const failure = commandFailure(result, "nvidia-smi -q");
  const parsed = parseQueryText(result.stdout);
  const gpus: GpuSample[] = [];
  parsed.gpus.forEach((g, i) => {
    if (!g.complete) return;
    const s = gpuSampleFromText(g, i);
    if (s) gpus.push(s);
  });
  if (!failure && parsed.gpus.length === 0) parsed.problems.push("no GPU block in nvidia-smi -q output");
  return withMeta(gpus, failure, parsed);
}

function withMeta(
  gpus: GpuSample[],
  failure: NvidiaSmiFailure | null,
  parsed: { problems: string[]; driverVersion: string | null; cudaVersion: string | null },
): GpuReadingWithMeta {
  const { problems, driverVersion, cudaVersion } = parsed;
  return { gpus, failure, problems, at: now(), driverVersion, cudaVersion };
}

/** `nvidia-smi -q -x` → a reading. */
export function readingFromQueryXml(result: CommandResult): GpuReadingWithMeta {
  const failure = commandFailure(result, "nvidia-smi -q -x");
  if (failure && result.stdout.trim() === "")
    return { gpus: [], failure, problems: [], at: now(), driverVersion: null, cudaVersion: null };
  const parsed = parseQueryXml(result.stdout);
  const gpus: GpuSample[] = [];
  parsed.gpus.forEach((g, i) => {
    const s = gpuSampleFromXml(g.node, g.busId, i);
    if (s) gpus.push(s);
  });
  if (parsed.attachedGpus !== null && parsed.gpus.length < parsed.attachedGpus) {
    parsed.problems.push(`output lists ${parsed.gpus.length} of ${parsed.attachedGpus} attached GPUs`);
  }
  return withMeta(gpus, failure, parsed);
}

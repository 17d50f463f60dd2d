import { readFileSync } from "node:fs";
import type { Logger } from "@podkit/core";
import { runCommand } from "../exec.js";
import { chooseCsvFields, WANTED_CSV_FIELDS } from "../parse/gpu-sample.js";
import { parseHelpQueryGpu } from "../parse/query-gpu-csv.js";
import { parseQueryXml } from "../parse/query-xml.js";
import {
  type CommandResult,
  type GpuExtras,
  type GpuReadingWithMeta,
  readingFromCsv,
  readingFromQueryText,
  readingFromQueryXml,
} from "../parse/reading.js";
import { parseNvlinkStatus, parseTopoMatrix } from "../parse/topo.js";
import { normalizePciBusId } from "../parse/values.js";

/** Where GPU readings come from: real nvidia-smi, or a labelled replay of a recorded capture. */
export interface GpuSource {
  readonly simulated: boolean;
  /** For simulated sources: which recording, in words a host can check. */
  readonly description: string;
  /** The per-cycle reading (cheap); `signal` aborts it and kills what it started. */
  read(listedIndexes: readonly number[], signal?: AbortSignal): Promise<GpuReadingWithMeta>;
  /**
   * The expensive reads (`-q -x`/`-q`, `nvlink -s`, `topo -m`), on a schedule of their own; later
   * readings carry what they found. Absent where `read` already gives everything.
   */
  readDetails?(signal?: AbortSignal): Promise<GpuDetailsReading>;
}

/** What the expensive reads gave: the CUDA version and the extras, or why not. */
export interface GpuDetailsReading {
  at: string;
  cudaVersion: string | null;
  extras: GpuExtras;
  /** Reads that failed (their part keeps its last value). */
  problems: string[];
}

export interface NvidiaSmiSourceOptions {
  path?: string;
  timeoutMs?: number;
  logger?: Logger;
}

/**
 * nvidia-smi, the way nvidia_gpu_exporter runs it: discover the driver's fields once with
 * `--help-query-gpu`, ask for the ones we want in one CSV query, drop a field the driver
 * refuses and retry, and when one lost GPU breaks the whole query, ask per index so the other
 * GPUs stay visible.
 */
export class NvidiaSmiSource implements GpuSource {
  readonly simulated = false;
  readonly description: string;
  private fields: string[] | null = null;
  private cudaVersion: string | null = null;
  private extras: GpuExtras | undefined;
  private readonly path: string;
  private readonly timeoutMs: number;

  constructor(private readonly options: NvidiaSmiSourceOptions = {}) {
    this.path = options.path ?? "nvidia-smi";
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.description = `nvidia-smi (${this.path})`;
  }

  private run(args: string[], signal?: AbortSignal) {
    return runCommand(this.path, args, { timeoutMs: this.timeoutMs, signal });
  }

  private async discoverFields(signal?: AbortSignal): Promise<string[]> {
    if (this.fields) return this.fields;
    const help = await this.run(["--help-query-gpu"], signal);
    const available = help.exitCode === 0 ? parseHelpQueryGpu(help.stdout) : [];
    const chosen = chooseCsvFields(available.length > 0 ? available : null);
    if (available.length > 0) this.fields = chosen;
    return chosen;
  }

  async read(listedIndexes: readonly number[], signal?: AbortSignal): Promise<GpuReadingWithMeta> {
    let fields = await this.discoverFields(signal);
    let reading = await this.query(fields, signal);
    // Per-field fallback: a field this driver refuses is dropped for good, then we try again.
    // Bounded by the field count: without `--help-query-gpu` an old driver may refuse several.
    for (
      let tries = 0;
      reading.failure?.kind === "invalid-field" && tries < WANTED_CSV_FIELDS.length && !signal?.aborted;
      tries++
    ) {
      const bad = reading.failure.field;
      this.options.logger?.warn({ field: bad }, "nvidia-smi refused a field; querying without it");
      fields = fields.filter((f) => f !== bad);
      this.fields = fields;
      reading = await this.query(fields, signal);
    }
    if (reading.failure?.kind === "gpu-lost" && reading.gpus.length === 0 && listedIndexes.length > 0) {
      for (const index of listedIndexes) {
        if (signal?.aborted) break;
        const one = await this.query(fields, signal, index);
        reading.gpus.push(...one.gpus);
      }
    }
    reading.cudaVersion = this.cudaVersion;
    // A failed cycle must not show NVLink/MIG state from before the failure.
    if (this.extras && !reading.failure) {
      reading.extras = this.extras;
      for (const g of reading.gpus) g.pcieReplays ??= this.extras.pcieReplays?.[g.pciBusId] ?? null;
    }
    return reading;
  }

  private async query(fields: string[], signal?: AbortSignal, index?: number): Promise<GpuReadingWithMeta> {
    const args = [`--query-gpu=${fields.join(",")}`, "--format=csv"];
    if (index !== undefined) args.push(`--id=${index}`);
    return readingFromCsv(await this.run(args, signal), fields);
  }

  /**
   * What CSV lacks: the CUDA version and MIG devices (`-q -x`, or `-q` text if XML fails), NVLink,
   * topology. A part that cannot be read keeps its last value (reported in `problems`).
   */
  async readDetails(signal?: AbortSignal): Promise<GpuDetailsReading> {
    const previous = this.extras;
    const extras: GpuExtras = { nvlink: {}, nvlinkUnsupported: null, migInstances: {}, topology: null };
    const problems: string[] = [];
    const failed = (what: string, r: CommandResult) =>
      problems.push(`${what}: ${r.timedOut ? "timed out" : (r.spawnError ?? `exit status ${r.exitCode}`)}`);
    const xml = await this.run(["-q", "-x"], signal);
    const parsed = xml.exitCode === 0 ? parseQueryXml(xml.stdout) : null;
    extras.pcieReplays = {};
    const replays = (gpus: Array<{ pciBusId: string; pcieReplays?: number | null }>) => {
      for (const g of gpus)
        if (typeof g.pcieReplays === "number") extras.pcieReplays![g.pciBusId] = g.pcieReplays;
    };
    if (parsed && parsed.problems.length === 0) {
      this.cudaVersion = parsed.cudaVersion;
      for (const g of parsed.gpus) {
        const bus = normalizePciBusId(g.busId);
        if (bus) extras.migInstances[bus] = g.migDevices.length;
      }
      replays(readingFromQueryXml(xml).gpus);
    } else {
      const text = await this.run(["-q"], signal);
      if (text.exitCode === 0) {
        const fromText = readingFromQueryText(text);
        this.cudaVersion = fromText.cudaVersion ?? this.cudaVersion;
        replays(fromText.gpus);
      } else {
        failed("nvidia-smi -q", text);
        if (previous) extras.migInstances = previous.migInstances;
      }
    }
    const nvlink = await this.run(["nvlink", "-s"], signal);
    if (nvlink.exitCode === 0) {
      const status = parseNvlinkStatus(nvlink.stdout);
      extras.nvlinkUnsupported = status.unsupported;
      for (const [index, links] of Object.entries(status.gpus)) {
        extras.nvlink[Number(index)] = {
          activeLinks: links.filter((l) => l !== null && l > 0).length,
          linkSpeedsBytesPerSecond: links.map((l) => (l === null ? null : l * 1e9)),
        };
      }
    } else if (nvlink.timedOut || nvlink.spawnError) {
      failed("nvidia-smi nvlink -s", nvlink);
      if (previous) {
        extras.nvlink = previous.nvlink;
        extras.nvlinkUnsupported = previous.nvlinkUnsupported;
      }
    }
    const topo = await this.run(["topo", "-m"], signal);
    if (topo.exitCode === 0) extras.topology = parseTopoMatrix(topo.stdout);
    else if (topo.timedOut || topo.spawnError) {
      failed("nvidia-smi topo -m", topo);
      extras.topology = previous?.topology ?? null;
    }
    this.extras = extras;
    return { at: new Date().toISOString(), cudaVersion: this.cudaVersion, extras, problems };
  }
}

export interface SimulatedCapture {
  id: string;
  file: URL;
  description: string;
}

export const SIMULATED_CAPTURES: Record<string, SimulatedCapture> = {
  "h100-8x": {
    id: "h100-8x",
    file: new URL("../../data/simulated/h100-8x.q.txt", import.meta.url),
    description:
      "SIMULATED: replay of a recorded `nvidia-smi -q` from an 8× H100 80GB HBM3 host, driver 535.161.08 (leptonai/gpud testdata @ fdf5b321); no real GPU is read",
  },
  "rtx4090-8x": {
    id: "rtx4090-8x",
    file: new URL("../../data/simulated/rtx4090-8x.q.txt", import.meta.url),
    description:
      "SIMULATED: replay of a recorded `nvidia-smi -q` from an 8× GeForce RTX 4090 host, driver 535.154.05 (leptonai/gpud testdata @ fdf5b321); no real GPU is read",
  },
};

/**
 * A clearly labelled stand-in for machines without GPUs (`podkit up`, demos, benchmarks): it
 * parses a recorded capture every cycle, through the same parser as real output. MachineInfo
 * carries `simulated: true` and this description, so nothing downstream mistakes it for hardware.
 */
export class SimulatedGpuSource implements GpuSource {
  readonly simulated = true;
  readonly description: string;
  private readonly text: string;

  constructor(captureId = "h100-8x") {
    const capture = SIMULATED_CAPTURES[captureId];
    if (!capture)
      throw new Error(
        `unknown simulated capture ${captureId} (known: ${Object.keys(SIMULATED_CAPTURES).join(", ")})`,
      );
    this.description = capture.description;
    this.text = readFileSync(capture.file, "utf8");
  }

  async read(): Promise<GpuReadingWithMeta> {
    return readingFromQueryText({ stdout: this.text, stderr: "", exitCode: 0, timedOut: false });
  }
}

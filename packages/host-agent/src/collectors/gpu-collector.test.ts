import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@podkit/core";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { GpuReadingWithMeta } from "../parse/reading.js";
import { Scheduler } from "../scheduler.js";
import type { CollectorContext } from "./collector.js";
import { type GpuSource, SimulatedGpuSource } from "./gpu.js";
import { gpuCollector } from "./gpu-collector.js";

const logger = createLogger({ name: "test", level: "silent" });

/** The recorded 8× RTX 4090, answered at once or only after `delayMs` (then `signal` shows whether the run was aborted). */
class SlowSource implements GpuSource {
  readonly simulated = false;
  readonly description = "recorded capture, delayed";
  delayMs = 0;
  aborted = false;
  private readonly replay = new SimulatedGpuSource("rtx4090-8x");
  async read(_listed: readonly number[], signal?: AbortSignal): Promise<GpuReadingWithMeta> {
    if (this.delayMs > 0) {
      await new Promise((r) => setTimeout(r, this.delayMs));
      this.aborted = signal?.aborted ?? false;
    }
    return this.replay.read();
  }
}

function setup(extra: Partial<CollectorContext> = {}) {
  const source = new SlowSource();
  const context: CollectorContext = {
    stateDir: mkdtempSync(join(tmpdir(), "podkit-gpu-collector-")),
    bootId: "boot",
    logger,
    gpuSource: source,
    kmsgPath: null,
    collectorTimeoutMs: 10, // budget 3 × 10 + 2000 ms
    listedIndexes: () => [],
    gpuIndexByBusId: () => new Map(),
    ...extra,
  };
  const registry = new Registry();
  const scheduler = new Scheduler([gpuCollector(context)], registry, logger);
  const latest = () => scheduler.latest<GpuReadingWithMeta>("gpu")!;
  return { source, scheduler, registry, latest };
}

describe("the GPU collector when nvidia-smi is slow", () => {
  it("keeps the last complete reading, marked stale, when a run overruns its budget, and aborts that run", async () => {
    const { source, scheduler, registry, latest } = setup();
    await scheduler.run("gpu");
    expect(latest().gpus).toHaveLength(8);
    expect(latest().stale).toBeUndefined();
    source.delayMs = 2500;
    await scheduler.run("gpu");
    expect(latest().gpus).toHaveLength(8);
    expect(latest().failure).toBeNull();
    expect(latest().stale?.reason).toMatch(/gpu collector did not finish within 2030 ms/);
    const body = await registry.metrics();
    expect(body).toMatch(/^podkit_gpu_reading_stale 1$/m);
    expect(body).toMatch(/^podkit_agent_collector_success\{collector="gpu"\} 0$/m);
    await new Promise((r) => setTimeout(r, 600));
    expect(source.aborted).toBe(true);
    // The next run in time is fresh again.
    source.delayMs = 0;
    await scheduler.run("gpu");
    expect(latest().stale).toBeUndefined();
    expect(await registry.metrics()).toMatch(/^podkit_gpu_reading_stale 0$/m);
  });

  it("reports NVIDIA_SMI_TIMEOUT (the documented reason) once the last complete reading is older than the limit", async () => {
    const { source, scheduler, latest } = setup({ gpuStaleLimitMs: 0 });
    await scheduler.run("gpu");
    source.delayMs = 2500;
    await scheduler.run("gpu");
    expect(latest().gpus).toEqual([]);
    expect(latest().failure).toMatchObject({ code: "NVIDIA_SMI_TIMEOUT", kind: "timeout" });
    expect(latest().failure?.message).toMatch(/no complete GPU reading for \d+ s/);
  });
});

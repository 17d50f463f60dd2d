import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@podkit/core";
import { describe, expect, it } from "vitest";
import { startAgent } from "./agent.js";

const logger = createLogger({ name: "test", level: "silent" });

describe("startAgent in-process (what `podkit up` runs)", () => {
  it("runs without a kernel log to follow and serves the simulated GPUs", async () => {
    const agent = await startAgent({
      stateDir: mkdtempSync(join(tmpdir(), "podkit-agent-")),
      metricsListen: "127.0.0.1:0",
      simulate: "rtx4090-8x",
      kmsgPath: null,
      logger,
    });
    try {
      const body = await (await fetch(agent.metricsUrl)).text();
      expect(body).toMatch(/podkit_gpu_info\{[^}]*name="NVIDIA GeForce RTX 4090"[^}]*simulated="true"/);
      expect(agent.status().gpus).toHaveLength(8);
      await agent.collectNow();
      expect(agent.status().machine.health.state).toBe("healthy");
    } finally {
      await agent.close();
    }
  });
});

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  agentArgs,
  H100_CAPTURE,
  scrapeValue,
  startAgentProcess,
  TESTDATA,
  tempDir,
  waitFor,
} from "./agent/helpers.js";

const SLOW_SMI = fileURLToPath(new URL("./agent/slow-nvidia-smi", import.meta.url));

type Status = {
  machine: { health: { state: string; reasons: Array<{ code: string }> } };
  gpus: unknown[];
};

describe("podkit agent run with an nvidia-smi that takes 2.5 s per call", () => {
  const dir = tempDir("agent-slow");
  const stateDir = join(dir, "state");
  const modeFile = join(dir, "mode");
  writeFileSync(modeFile, "healthy");
  writeFileSync(join(dir, "kmsg.log"), "");
  let agent: AgentProcess | null = null;
  afterAll(async () => {
    if (agent && agent.proc.exitCode === null) await agent.kill9();
  });

  it("stays healthy with every GPU through the expensive reads; a hung nvidia-smi then changes health, logged and exported with its reason", async () => {
    agent = await startAgentProcess(
      agentArgs({ nvidiaSmi: SLOW_SMI, kmsgPath: join(dir, "kmsg.log"), stateDir }),
      {
        FAKE_SMI_CAPTURE: H100_CAPTURE,
        FAKE_SMI_MODE: modeFile,
        FAKE_SMI_MISMATCH: join(TESTDATA, "nvml-mismatch.txt"),
        FAKE_SMI_DELAY_SECONDS: "2.5",
        // A GPU cycle every second; the expensive reads (-q -x, -q, nvlink, topo) come every 4th.
        PODKIT_AGENT_GPU_INTERVAL_SECONDS: "1",
        PODKIT_AGENT_COLLECTOR_TIMEOUT_SECONDS: "5",
      },
    );
    const statusUrl = agent.metricsUrl.replace(/\/metrics$/, "/status");
    const seen: Array<[string, number]> = [];
    const until = Date.now() + 25_000;
    while (Date.now() < until) {
      const s = (await (await fetch(statusUrl)).json()) as Status;
      seen.push([s.machine.health.state, s.gpus.length]);
      await new Promise((r) => setTimeout(r, 250));
    }
    // Several rounds of the expensive reads happened meanwhile: slow did not mean absent.
    expect(seen.filter(([state, gpus]) => state !== "healthy" || gpus !== 1)).toEqual([]);
    const body = await (await fetch(agent.metricsUrl)).text();
    expect(scrapeValue(body, "podkit_gpu_nvlink_active_links", { gpu: "0" })).toBe(18);
    expect(scrapeValue(body, "podkit_agent_collector_success", { collector: "gpu" })).toBe(1);
    // Standalone, health changes are queued as facts: one (the first verdict), no flapping.
    const healthReports = () =>
      readdirSync(join(stateDir, "outbox"))
        .filter((f) => f.endsWith(".json"))
        .filter(
          (f) =>
            (JSON.parse(readFileSync(join(stateDir, "outbox", f), "utf8")) as { type: string }).type ===
            "health",
        );
    expect(healthReports()).toHaveLength(1);

    // nvidia-smi now hangs: a failure with a defined reason, which does change health.
    writeFileSync(modeFile, "hang");
    await waitFor("NVIDIA_SMI_TIMEOUT exported", async () => {
      const b = await (await fetch(agent!.metricsUrl)).text();
      return (
        scrapeValue(b, "podkit_machine_health_reason", {
          reason: "NVIDIA_SMI_TIMEOUT",
          state: "degraded",
        }) === 1
      );
    });
    const s = (await (await fetch(statusUrl)).json()) as Status;
    expect(s.machine.health.state).toBe("degraded");
    expect(s.machine.health.reasons.map((r) => r.code)).toContain("NVIDIA_SMI_TIMEOUT");
    expect(agent.logs()).toMatch(
      /machine health changed[^\n]*NVIDIA_SMI_TIMEOUT|NVIDIA_SMI_TIMEOUT[^\n]*machine health changed/,
    );
    expect(healthReports()).toHaveLength(2);
  });
});

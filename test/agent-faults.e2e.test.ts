import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startControlPlaneProcess } from "./agent/control-plane-process.js";
import {
  type AgentProcess,
  agentArgs,
  freePort,
  H100_CAPTURE,
  podkit,
  scrapeValue,
  spawnAgentProcess,
  startAgentProcess,
  tempDir,
  waitFor,
} from "./agent/helpers.js";

const SLOW_SMI = fileURLToPath(new URL("./agent/slow-nvidia-smi", import.meta.url));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("podkit agent run: the smaller faults", () => {
  const running: AgentProcess[] = [];
  afterAll(async () => {
    for (const a of running) if (a.proc.exitCode === null) await a.kill9();
  });

  it("serves /metrics at once, collectors not yet read, and no podkit_gpus_expected while the GPUs are unknown", async () => {
    const dir = tempDir("agent-early");
    const port = await freePort();
    const started = startAgentProcess(
      agentArgs({
        nvidiaSmi: SLOW_SMI,
        kmsgPath: "/dev/null",
        stateDir: join(dir, "state"),
        listen: `127.0.0.1:${port}`,
      }),
      { FAKE_SMI_CAPTURE: H100_CAPTURE, FAKE_SMI_DELAY_SECONDS: "3" },
    );
    // The first collection takes ≥ 15 s (five calls of 3 s); the endpoint answers long before.
    const body = await waitFor(
      "metrics endpoint",
      async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      10_000,
      100,
    );
    expect(scrapeValue(body, "podkit_agent_collector_runs_total", { collector: "gpu" })).toBe(0);
    expect(scrapeValue(body, "podkit_agent_collector_runs_total", { collector: "gpu-details" })).toBe(0);
    expect(scrapeValue(body, "podkit_gpus_expected")).toBeNull();
    expect(scrapeValue(body, "podkit_gpus_present")).toBeNull();
    const agent = await started;
    running.push(agent);
    const after = await (await fetch(agent.metricsUrl)).text();
    expect(scrapeValue(after, "podkit_agent_collector_runs_total", { collector: "gpu" })).toBe(1);
    expect(scrapeValue(after, "podkit_gpus_expected")).toBe(1);
    // Running counts from /proc/net/dev are counters.
    expect(after).toMatch(/^# TYPE podkit_host_network_receive_bytes_total counter$/m);
    expect(after).toMatch(/^# TYPE podkit_host_network_transmit_bytes_total counter$/m);
    expect(await agent.stop()).toBe(0);
  });

  for (const when of ["after the start", "during the first collection"] as const) {
    it(`stops within 2 s of SIGTERM while nvidia-smi hangs (${when}), killing it`, async () => {
      const dir = tempDir("agent-sigterm");
      const modeFile = join(dir, "mode");
      const pidsFile = join(dir, "hung-pids");
      writeFileSync(modeFile, when === "after the start" ? "healthy" : "hang");
      writeFileSync(pidsFile, "");
      const port = await freePort();
      const env = {
        FAKE_SMI_CAPTURE: H100_CAPTURE,
        FAKE_SMI_MODE: modeFile,
        FAKE_SMI_PIDS: pidsFile,
        PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
      };
      const listen = `127.0.0.1:${port}`;
      const args = agentArgs({ kmsgPath: "/dev/null", stateDir: join(dir, "state"), listen });
      let agent: AgentProcess;
      if (when === "after the start") {
        agent = await startAgentProcess(args, env);
        writeFileSync(modeFile, "hang");
      } else {
        // startAgentProcess waits for the "metrics on" line, which comes after the first collection.
        agent = spawnAgentProcess(args, env, listen);
      }
      running.push(agent);
      const hung = await waitFor("a hung nvidia-smi", () => {
        const pids = readFileSync(pidsFile, "utf8").split("\n").filter(Boolean).map(Number);
        return pids.length > 0 ? pids[pids.length - 1]! : null;
      });
      // Standalone and never listed: the endpoint says nothing about expected GPUs.
      if (when !== "after the start")
        expect(scrapeValue(await (await fetch(agent.metricsUrl)).text(), "podkit_gpus_expected")).toBeNull();
      const t0 = Date.now();
      const code = await Promise.race([
        agent.stop(),
        new Promise<string>((resolve) => setTimeout(() => resolve("still running 5 s after SIGTERM"), 5000)),
      ]);
      expect(code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(2000);
      await waitFor("the hung nvidia-smi killed", () => !alive(hung), 2000, 50);
    });
  }

  it("accepts the control plane as ws:// (the same control plane as http://) and refuses a scheme it cannot reach", async () => {
    const dir = tempDir("agent-ws-url");
    const port = await freePort();
    const adminToken = "pka_agent-faults-admin-token-01";
    const cp = await startControlPlaneProcess({ port, dataDir: join(dir, "cp"), adminToken });
    try {
      const { token } = await cp.api<{ token: string }>("/api/v1/enrollment-tokens", {
        method: "POST",
        body: "{}",
      });
      const stateDir = join(dir, "state");
      const agent = await startAgentProcess([
        "--simulate",
        "rtx4090-8x",
        "--control-plane",
        `ws://127.0.0.1:${port}`,
        "--token",
        token,
        "--state-dir",
        stateDir,
        "--metrics-listen",
        "127.0.0.1:0",
        "--kmsg",
        "/dev/null",
      ]);
      running.push(agent);
      const body = await waitFor("connected over the ws:// URL", async () => {
        const b = await (await fetch(agent.metricsUrl)).text();
        return scrapeValue(b, "podkit_agent_control_plane_connected") === 1 ? b : null;
      });
      expect(body).toMatch(/^# TYPE podkit_agent_control_plane_reconnects_total counter$/m);
      const hosts = await cp.api<Array<{ gpuCount?: number }> | { hosts: unknown[] }>("/api/v1/hosts");
      expect(JSON.stringify(hosts)).toMatch(/RTX 4090/);
      expect(await agent.stop()).toBe(0);

      const refused = podkit([
        "agent",
        "run",
        "--control-plane",
        `ftp://127.0.0.1:${port}`,
        "--token",
        token,
        "--state-dir",
        join(dir, "s2"),
        "--metrics-listen",
        "127.0.0.1:0",
        "--simulate",
        "h100-8x",
        "--kmsg",
        "/dev/null",
      ]);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/reached over http:\/\/, https:\/\/, ws:\/\/ or wss:\/\/, not ftp:\/\//);
    } finally {
      await cp.stop();
    }
  });
});

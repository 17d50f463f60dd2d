import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  type AgentProcess,
  FAKE_SMI,
  FakeKernelLog,
  H100_CAPTURE,
  podkit,
  scrapeValue,
  startAgentProcess,
  TESTDATA,
  tempDir,
  waitFor,
} from "./agent/helpers.js";
import { startPrometheus } from "./agent/prometheus.js";

type Status = {
  machine: {
    health: {
      state: string;
      reasons: Array<{
        code: string;
        state: string;
        evidence?: string;
        gpuIndex?: number;
        clearsWhen?: string;
      }>;
    };
  };
  gpus: Array<{ index: number; name: string; temperatureCelsius: number | null; health: { state: string } }>;
  listedGpuCount: number | null;
  gpuSource: { simulated: boolean };
  topology: unknown;
};

describe("podkit agent run: a fake nvidia-smi replaying a recorded H100 and a kernel log fed line by line", () => {
  const dir = tempDir("agent-e2e");
  const stateDir = join(dir, "state");
  const modeFile = join(dir, "mode");
  const pidsFile = join(dir, "hung-pids");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  writeFileSync(modeFile, "healthy");
  writeFileSync(pidsFile, "");
  let agent: AgentProcess | null = null;
  let prom: Awaited<ReturnType<typeof startPrometheus>> | null = null;
  afterAll(async () => {
    await prom?.close();
    if (agent && agent.proc.exitCode === null) await agent.kill9();
  });

  const status = (): Status => {
    const r = podkit(["agent", "status", "--state-dir", stateDir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Status;
  };
  const scrape = async () => (await fetch(agent!.metricsUrl)).text();
  const reason = (s: Status, code: string) => s.machine.health.reasons.find((r) => r.code === code);

  it("tells the truth through healthy → XIDs → GPU lost → hung nvidia-smi → driver mismatch", async () => {
    agent = await startAgentProcess(
      [
        "--nvidia-smi",
        FAKE_SMI,
        "--kmsg",
        kmsg.path,
        "--state-dir",
        stateDir,
        "--metrics-listen",
        "127.0.0.1:0",
      ],
      {
        FAKE_SMI_CAPTURE: H100_CAPTURE,
        FAKE_SMI_MODE: modeFile,
        FAKE_SMI_PIDS: pidsFile,
        FAKE_SMI_LOST: join(TESTDATA, "lost-gpu-0000-00-09.txt"),
        FAKE_SMI_MISMATCH: join(TESTDATA, "nvml-mismatch.txt"),
        PODKIT_AGENT_GPU_INTERVAL_SECONDS: "0.5",
        PODKIT_AGENT_REPORT_INTERVAL_SECONDS: "0.5",
        PODKIT_AGENT_COLLECTOR_TIMEOUT_SECONDS: "1",
      },
    );

    // Healthy: the recorded values, unchanged, in base units.
    let body = await scrape();
    expect(scrapeValue(body, "podkit_gpu_temperature_celsius", { gpu: "0" })).toBe(59);
    expect(scrapeValue(body, "podkit_gpu_power_watts", { gpu: "0" })).toBeCloseTo(631.95, 2);
    expect(scrapeValue(body, "podkit_gpu_memory_total_bytes", { gpu: "0" })).toBe(81559 * 1024 * 1024);
    expect(
      scrapeValue(body, "podkit_gpu_info", {
        name: "NVIDIA H100 80GB HBM3",
        driver_version: "590.48.01",
        cuda_version: "13.1",
        simulated: "false",
      }),
    ).toBe(1);
    expect(scrapeValue(body, "podkit_machine_health_state", { state: "healthy" })).toBe(1);
    // PCIe link, clocks event reasons (hex mask 0x0 of supported 0x1FF) and the GPU's own T.Limit headroom.
    expect(scrapeValue(body, "podkit_gpu_pcie_link_generation", { gpu: "0" })).toBe(5);
    expect(scrapeValue(body, "podkit_gpu_pcie_link_max_width_lanes", { gpu: "0" })).toBe(16);
    expect(scrapeValue(body, "podkit_gpu_clocks_event_reason_active", { gpu: "0", reason: "gpu_idle" })).toBe(
      0,
    );
    expect(
      scrapeValue(body, "podkit_gpu_clocks_event_reason_active", {
        gpu: "0",
        reason: "hw_power_brake_slowdown",
      }),
    ).toBe(0);
    expect(scrapeValue(body, "podkit_gpu_temperature_limit_margin_celsius", { gpu: "0" })).toBe(26);
    // The CSV has no absolute slowdown limit: no series rather than a made-up value.
    expect(scrapeValue(body, "podkit_gpu_temperature_slowdown_celsius", { gpu: "0" })).toBeNull();
    // NVLink and topology come from `nvlink -s` / `topo -m` of the same capture: 18 links at 26.562 GB/s.
    expect(scrapeValue(body, "podkit_gpu_nvlink_active_links", { gpu: "0" })).toBe(18);
    expect(scrapeValue(body, "podkit_gpu_nvlink_link_speed_bytes_per_second", { gpu: "0", link: "17" })).toBe(
      26.562e9,
    );
    let s = status();
    expect(s.machine.health.state).toBe("healthy");
    expect(s.gpus.map((g) => [g.index, g.name, g.temperatureCelsius])).toEqual([
      [0, "NVIDIA H100 80GB HBM3", 59],
    ]);
    expect(s.listedGpuCount).toBe(1);
    expect(s.gpuSource.simulated).toBe(false);
    expect(s.topology).toMatchObject({
      devices: ["GPU0"],
      cpuAffinity: { GPU0: "0-19" },
      numaAffinity: { GPU0: "0" },
    });
    const human = podkit(["agent", "status", "--state-dir", stateDir]);
    expect(human.stdout).toMatch(/Health:\s+healthy/);
    expect(human.stdout).toMatch(/0\s+NVIDIA H100 80GB HBM3\s+0000:00:09.0\s+59 C\s+100%/);

    // promtool accepts every family the agent exports.
    const lint = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
    expect(`${lint.status} ${lint.stdout}${lint.stderr}`).toBe("0 ");

    // A real Prometheus scrapes it.
    prom = await startPrometheus([new URL(agent.metricsUrl).host]);
    const temp = await prom.query('podkit_gpu_temperature_celsius{gpu="0"}');
    expect(temp[0]!.value[1]).toBe("59");
    expect(temp[0]!.metric.machine_id).toBe("test-machine-1");

    // Tenant XIDs (13, 31) are counted but do not make the machine unhealthy; 109 wants a GPU reset.
    for (const line of readFileSync(join(TESTDATA, "gpud__xid-readme__xid13-31-109.log"), "utf8")
      .split("\n")
      .filter(Boolean)) {
      kmsg.append(line.replace("PCI:0000:cb:00", "PCI:0000:00:09"));
      await new Promise((r) => setTimeout(r, 50));
    }
    body = await waitFor("XID counters", async () => {
      const b = await scrape();
      return scrapeValue(b, "podkit_gpu_xid_errors_total", { xid: "109" }) === 2 ? b : null;
    });
    expect(
      scrapeValue(body, "podkit_gpu_xid_errors_total", { gpu: "0", xid: "13", action: "restart-app" }),
    ).toBe(3);
    expect(scrapeValue(body, "podkit_gpu_xid_errors_total", { gpu: "0", xid: "31" })).toBe(1);
    s = await waitFor("XID 109 in health", () => {
      const st = status();
      return reason(st, "XID_109") ? st : null;
    });
    expect(s.machine.health.state).toBe("reset-required");
    expect(reason(s, "XID_109")).toMatchObject({ state: "reset-required", gpuIndex: 0 });
    expect(reason(s, "XID_13")).toBeUndefined();

    // The GPU falls off the bus: nvidia-smi loses it and the kernel logs Xid 79.
    writeFileSync(modeFile, "lost");
    kmsg.append(
      ...readFileSync(join(TESTDATA, "kmsg-xid79-0000-00-09.log"), "utf8").split("\n").filter(Boolean),
    );
    s = await waitFor("GPU lost", () => {
      const st = status();
      return reason(st, "GPU_MISSING") && reason(st, "XID_79") ? st : null;
    });
    expect(s.machine.health.state).toBe("reboot-required");
    expect(reason(s, "GPU_MISSING")).toMatchObject({
      state: "reboot-required",
      gpuIndex: 0,
      evidence: "Unable to determine the device handle for GPU0000:00:09.0: Unknown Error",
    });
    expect(reason(s, "GPU_LOST")).toMatchObject({ state: "reboot-required" });
    expect(s.gpus).toHaveLength(0);
    body = await scrape();
    expect(scrapeValue(body, "podkit_gpus_present")).toBe(0);
    expect(scrapeValue(body, "podkit_gpus_expected")).toBe(1);
    expect(scrapeValue(body, "podkit_gpu_temperature_celsius")).toBeNull(); // no made-up value for a lost GPU
    expect(scrapeValue(body, "podkit_agent_collector_success", { collector: "gpu" })).toBe(0);
    const inProm = await waitFor("Prometheus sees reboot-required", async () => {
      const r = await prom!.query('podkit_machine_health_state{state="reboot-required"}');
      return r[0]?.value[1] === "1" ? r : null;
    });
    expect(inProm).toHaveLength(1);

    // nvidia-smi hangs (a wedged GPU): the agent keeps serving and reports the timeout.
    writeFileSync(modeFile, "hang");
    s = await waitFor("nvidia-smi timeout", () => {
      const st = status();
      return reason(st, "NVIDIA_SMI_TIMEOUT") ? st : null;
    });
    const t0 = Date.now();
    expect(scrapeValue(await scrape(), "podkit_gpus_present")).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1000);
    const hung = readFileSync(pidsFile, "utf8").split("\n").filter(Boolean).map(Number);
    expect(hung.length).toBeGreaterThan(0);
    await waitFor("hung nvidia-smi processes killed", () =>
      hung.slice(0, -1).every((pid) => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      }),
    );

    // The driver is upgraded underneath: a reboot is needed.
    writeFileSync(modeFile, "mismatch");
    s = await waitFor("driver mismatch", () => {
      const st = status();
      return reason(st, "DRIVER_LIBRARY_MISMATCH") ? st : null;
    });
    expect(reason(s, "DRIVER_LIBRARY_MISMATCH")!.clearsWhen).toMatch(/reboot/);

    // Probe-time loss of another GPU, logged over three lines without an Xid number.
    kmsg.append(
      ...readFileSync(join(TESTDATA, "NVIDIA-NVSentinel-155__fallen-off-bus-multiline.log"), "utf8")
        .split("\n")
        .filter(Boolean),
    );
    await waitFor(
      "multi-line fallen off the bus",
      async () =>
        scrapeValue(await scrape(), "podkit_gpu_xid_errors_total", {
          pci_bus_id: "0000:b3:00.0",
          xid: "79",
          action: "reboot",
        }) === 1,
    );

    // After ~10 s of 0.5 s report intervals: still no periodic telemetry in the outbox.
    // Standalone, periodic telemetry is not queued (nobody would ever acknowledge it); health
    // changes and XIDs are facts and are.
    const outbox = join(stateDir, "outbox");
    const queued = (existsSync(outbox) ? readdirSync(outbox) : [])
      .filter((f) => f.endsWith(".json"))
      .map((f) => (JSON.parse(readFileSync(join(outbox, f), "utf8")) as { type: string }).type);
    expect(queued).not.toContain("telemetry");
    expect(queued).toContain("health");
    expect(queued).toContain("event");
    expect(await agent.stop()).toBe(0);
  });
});

describe("podkit agent run following this machine's /dev/kmsg (the default)", () => {
  it("stops within seconds of SIGTERM (systemctl stop), although the kernel logs nothing meanwhile", async () => {
    const dir = tempDir("agent-kmsg");
    const agent = await startAgentProcess([
      "--simulate",
      "rtx4090-8x",
      "--state-dir",
      join(dir, "state"),
      "--metrics-listen",
      "127.0.0.1:0",
    ]);
    try {
      const metrics = await (await fetch(agent.metricsUrl)).text();
      expect(metrics).toMatch(/podkit_gpu_info\{[^}]*name="NVIDIA GeForce RTX 4090"[^}]*simulated="true"/);
      // Long enough to have read the whole ring buffer and be waiting for the kernel's next line.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const code = await Promise.race([
        agent.stop(),
        new Promise<string>((resolve) => setTimeout(() => resolve("still running 5 s after SIGTERM"), 5000)),
      ]);
      expect(code).toBe(0);
    } finally {
      if (agent.proc.exitCode === null) await agent.kill9();
    }
  });
});

import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { AgentMessage } from "@podkit/core";
import { describe, expect, it } from "vitest";
import {
  FAKE_SMI,
  FakeKernelLog,
  H100_CAPTURE,
  podkit,
  startAgentProcess,
  TESTDATA,
  tempDir,
} from "./agent/helpers.js";

const FAKE_GPU_BURN = fileURLToPath(new URL("./agent/fake-gpu-burn", import.meta.url));

function outboxEvents(stateDir: string) {
  const dir = join(stateDir, "outbox");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as AgentMessage)
    .flatMap((m) => (m.type === "event" && m.payload.kind === "burn-test" ? [m.payload.phase] : []));
}

function setup(name: string) {
  const dir = tempDir(`burn-${name}`);
  const hooks = join(dir, "burn.d");
  mkdirSync(hooks);
  const hookLog = join(dir, "hooks.log");
  writeFileSync(
    join(hooks, "10-record"),
    `#!/bin/sh\necho "$0 $* phase=$PODKIT_BURN_PHASE result=\${PODKIT_BURN_RESULT:-} report=\${PODKIT_BURN_REPORT:+yes}" >> ${hookLog}\n`,
  );
  chmodSync(join(hooks, "10-record"), 0o755);
  writeFileSync(join(hooks, "README"), "not executable: ignored\n");
  const modeFile = join(dir, "mode");
  writeFileSync(modeFile, "healthy");
  const kmsg = new FakeKernelLog(join(dir, "kmsg.log"));
  const env = (gpuBurnLog: string) => ({
    FAKE_SMI_CAPTURE: H100_CAPTURE,
    FAKE_SMI_MODE: modeFile,
    FAKE_GPU_BURN_LOG: join(TESTDATA, gpuBurnLog),
  });
  const args = (extra: string[]) => [
    "agent",
    "burn-test",
    "--state-dir",
    join(dir, "state"),
    "--hooks-dir",
    hooks,
    "--gpu-burn",
    FAKE_GPU_BURN,
    "--nvidia-smi",
    FAKE_SMI,
    "--kmsg",
    kmsg.path,
    "--json",
    ...extra,
  ];
  return { dir, hooks, hookLog, kmsg, env, args, stateDir: join(dir, "state") };
}

describe("podkit agent burn-test", () => {
  it("runs real stress-ng (CPU, memory, disk) and replayed gpu-burn, runs hooks, reports, relists", () => {
    const t = setup("pass");
    mkdirSync(t.stateDir);
    const r = podkit(
      t.args([
        "--gpu-seconds",
        "5",
        "--cpu-seconds",
        "2",
        "--memory",
        "--memory-bytes",
        "64M",
        "--disk",
        t.dir,
      ]),
      t.env("superbench__gpu_burn-8xA100-ok.log"),
    );
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.passed).toBe(true);
    expect(report.problems).toEqual([]);
    expect(report.gpuBurn.gpus).toHaveLength(8);
    expect(report.gpuBurn.gpus.every((g: { verdict: string }) => g.verdict === "OK")).toBe(true);
    expect(report.stressNg.command).toMatch(/--cpu 0 .*--vm 1 --vm-bytes 64M --verify --hdd 1/);
    const byStressor = Object.fromEntries(
      report.stressNg.metrics.map((m: { stressor: string; bogoOps: number }) => [m.stressor, m.bogoOps]),
    );
    expect(byStressor.cpu).toBeGreaterThan(0);
    expect(byStressor.vm).toBeGreaterThan(0);
    expect(byStressor.hdd).toBeGreaterThan(0);
    expect(report.maxTemperatureCelsius).toEqual({ "0": 59 });
    expect(report.maintenance.reason).toMatch(/standalone/);
    expect(readFileSync(report.summaryPath, "utf8")).toMatch(
      /PASSED[\s\S]*gpu-burn: passed on 8 GPUs[\s\S]*relisted/,
    );
    expect(existsSync(report.reportPath)).toBe(true);
    const hookLines = readFileSync(t.hookLog, "utf8").trim().split("\n");
    expect(hookLines).toEqual([
      `${join(t.hooks, "10-record")} before phase=before result= report=`,
      `${join(t.hooks, "10-record")} after passed phase=after result=passed report=yes`,
    ]);
    expect(outboxEvents(t.stateDir)).toEqual(["started", "passed"]);
  });

  it("fails on FAULTY GPUs although gpu-burn exits 0, and on an XID during the test; stays unlisted", () => {
    const t = setup("faulty");
    // An XID arrives while the test runs: the fake gpu-burn appends it to the kernel log as it starts.
    const wrapper = join(t.dir, "gpu-burn-with-xid");
    const xid = join(TESTDATA, "kmsg-xid79-0000-00-09.log");
    writeFileSync(
      wrapper,
      `#!/bin/sh\nsleep 0.5\ncat ${xid} >> ${t.kmsg.path}\nsleep 1.5\nexec ${FAKE_GPU_BURN} "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
    const args = t.args(["--gpu-seconds", "5", "--cpu-seconds", "0"]);
    args[args.indexOf(FAKE_GPU_BURN)] = wrapper;
    const r = podkit(args, t.env("wilicc-gpu-burn-12__16gpu-faulty-exit0.log"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/burn test failed: \d+ problem\(s\), see .*\.txt/);
    const report = JSON.parse(r.stdout);
    expect(report.passed).toBe(false);
    expect(report.gpuBurn.exitCode).toBe(0);
    expect(report.problems).toContain("gpu-burn: GPU 1: FAULTY");
    expect(report.problems.join("\n")).toMatch(/XID 79 during the test \(reboot\)/);
    expect(report.stressNg).toEqual({ skipped: "--cpu-seconds 0" });
    expect(readFileSync(t.hookLog, "utf8")).toMatch(/after failed phase=after result=failed/);
    expect(readFileSync(report.summaryPath, "utf8")).toMatch(/FAILED[\s\S]*stays unlisted/);
    expect(outboxEvents(t.stateDir)).toEqual(["started", "failed"]);
  });

  it("refuses on a rented machine outside a maintenance window and names the next window", () => {
    const t = setup("rented");
    mkdirSync(t.stateDir);
    writeFileSync(
      join(t.stateDir, "credentials.json"),
      JSON.stringify({ hostId: "h1", hostToken: "pkh_x", controlPlane: "http://127.0.0.1:1" }),
    );
    const window = {
      id: "mw-9",
      hostId: "h1",
      start: "2099-03-01T00:00:00.000Z",
      end: "2099-03-01T02:00:00.000Z",
      immediate: false,
      status: "scheduled",
    };
    writeFileSync(
      join(t.stateDir, "host-state.json"),
      JSON.stringify({
        hostId: "h1",
        rented: true,
        listing: { state: "listed", reasons: [], since: "2026-11-01T00:00:00Z" },
        maintenanceWindows: [window],
      }),
    );
    const r = podkit(
      t.args(["--gpu-seconds", "1", "--cpu-seconds", "1"]),
      t.env("superbench__gpu_burn-8xA100-ok.log"),
    );
    expect(r.code).toBe(6);
    expect(r.stderr).toContain(
      "refusing burn-test: the machine is rented and no maintenance window is active; the next maintenance window starts at 2099-03-01T00:00:00.000Z (mw-9)",
    );
    expect(existsSync(t.hookLog)).toBe(false);
    expect(existsSync(join(t.stateDir, "outbox"))).toBe(false);
  });
});

describe("podkit agent reset-gpu / reboot obey the maintenance rules", () => {
  it("refuses on a rented machine outside a window, runs inside one, and tells the control plane", () => {
    const dir = tempDir("actions");
    const stateDir = join(dir, "state");
    mkdirSync(stateDir);
    writeFileSync(
      join(stateDir, "credentials.json"),
      JSON.stringify({ hostId: "h1", hostToken: "pkh_x", controlPlane: "http://127.0.0.1:1" }),
    );
    const hostState = (windows: object[]) =>
      writeFileSync(
        join(stateDir, "host-state.json"),
        JSON.stringify({
          hostId: "h1",
          rented: true,
          listing: { state: "listed", reasons: [], since: "2026-11-01T00:00:00Z" },
          maintenanceWindows: windows,
        }),
      );
    hostState([]);
    // Records what it was asked to do, in place of nvidia-smi (no GPU here to reset).
    const recorder = join(dir, "record-args");
    writeFileSync(recorder, `#!/bin/sh\necho "$*" >> ${join(dir, "calls")}\n`);
    chmodSync(recorder, 0o755);
    const resetGpu0 = () =>
      podkit(["agent", "reset-gpu", "--gpu", "0", "--state-dir", stateDir, "--nvidia-smi", recorder]);
    const refused = resetGpu0();
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(
      /refusing gpu-reset: the machine is rented .* no maintenance window is scheduled/,
    );
    expect(podkit(["agent", "reboot", "--dry-run", "--state-dir", stateDir]).code).toBe(6);
    expect(existsSync(join(dir, "calls"))).toBe(false);

    const start = new Date(Date.now() - 60_000).toISOString();
    const end = new Date(Date.now() + 3_600_000).toISOString();
    hostState([{ id: "mw-now", hostId: "h1", start, end, immediate: false, status: "active" }]);
    const ok = resetGpu0();
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain(`ran: ${recorder} --gpu-reset -i 0 (inside maintenance window mw-now`);
    expect(readFileSync(join(dir, "calls"), "utf8")).toBe("--gpu-reset -i 0\n");
    expect(podkit(["agent", "reboot", "--dry-run", "--state-dir", stateDir]).stdout).toMatch(
      /^would run: systemctl reboot \(inside maintenance window mw-now/,
    );
    const notices = readdirSync(join(stateDir, "outbox"))
      .filter((f) => f.endsWith(".json"))
      .map((f) => JSON.parse(readFileSync(join(stateDir, "outbox", f), "utf8")) as AgentMessage)
      .flatMap((m) => (m.type === "event" && m.payload.kind === "notice" ? [m.payload.message] : []));
    expect(notices).toEqual([
      expect.stringMatching(/^gpu-reset of GPU 0 started: inside maintenance window mw-now/),
    ]);
  });
});

describe("podkit agent run --config", () => {
  it("reads the [agent] table of the config file, and says what is wrong with a bad one", async () => {
    const dir = tempDir("config");
    const config = join(dir, "agent.toml");
    writeFileSync(
      config,
      `[agent]\nsimulate = "h100-8x"\nmetricsListen = "127.0.0.1:0"\nstateDir = "${join(dir, "state")}"\nkmsgPath = "/dev/null"\n`,
    );
    const agent = await startAgentProcess(["--config", config]);
    const status = JSON.parse(
      podkit(["agent", "status", "--state-dir", join(dir, "state"), "--json"]).stdout,
    );
    expect(status.gpuSource.simulated).toBe(true);
    expect(status.gpus).toHaveLength(8);
    expect(podkit(["agent", "status", "--state-dir", join(dir, "state")]).stdout).toMatch(
      /^WARNING: SIMULATED: replay of a recorded/m,
    );
    expect(await agent.stop()).toBe(0);

    writeFileSync(config, '[agent]\ngpuIntervalSeconds = "often"\n');
    const bad = podkit(["agent", "run", "--config", config]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/invalid agent configuration .*gpuIntervalSeconds/);
  });
});

describe("podkit agent install / uninstall", () => {
  it("writes a unit systemd accepts, a private config, and removes them again", () => {
    const root = tempDir("install-root");
    const r = podkit([
      "agent",
      "install",
      "--root",
      root,
      "--control-plane",
      "http://127.0.0.1:9",
      "--token",
      "pke_secret-enrol",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const unit = join(root, "etc/systemd/system/podkit-agent.service");
    const text = readFileSync(unit, "utf8");
    expect(text).toMatch(/^User=root$/m);
    expect(text).toMatch(/^Restart=on-failure$/m);
    expect(text).toMatch(
      /^ExecStart=\S+node --max-semi-space-size=1 --no-opt --expose-gc \S+main\.js agent run --config \/etc\/podkit\/agent\.toml --state-dir \/var\/lib\/podkit\/agent$/m,
    );
    const verify = spawnSync("systemd-analyze", ["verify", unit], { encoding: "utf8" });
    expect(verify.status, verify.stderr).toBe(0);
    expect(verify.stderr).not.toMatch(/Failed to parse|Unknown (key|section)/);
    const config = join(root, "etc/podkit/agent.toml");
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(readFileSync(config, "utf8")).toMatch(
      /\[agent\]\ncontrolPlane = "http:\/\/127\.0\.0\.1:9"\ntoken = "pke_secret-enrol"/,
    );
    // A second install keeps the host's edited config.
    writeFileSync(config, '[agent]\nmetricsListen = "0.0.0.0:9101"\n');
    expect(podkit(["agent", "install", "--root", root]).stdout).toMatch(/kept existing/);
    expect(readFileSync(config, "utf8")).toContain("0.0.0.0:9101");
    const un = podkit(["agent", "uninstall", "--root", root]);
    expect(un.stdout).toBe(`removed ${unit}\n`);
    expect(existsSync(config)).toBe(true);
    expect(podkit(["agent", "uninstall", "--root", root, "--purge"]).stdout).toMatch(/removed .*agent\.toml/);
    expect(existsSync(config)).toBe(false);
  });
});

import { realpathSync } from "node:fs";
import { join } from "node:path";
import { NotFoundError, PodkitError } from "@podkit/core";
import type { AgentStatus } from "@podkit/host-agent";
// Only the light entry at start: the agent's modules are imported in each action.
import { AGENT_CONFIG_PATH, STATE_DIR, tuneHeapForDaemon } from "@podkit/host-agent/daemon";
import type { Command } from "commander";
import { type ConfigSources, commandConfig } from "../config.js";
import { type Output, printJson } from "../output.js";
import { selfArgv } from "../self.js";
import { install, uninstall } from "./agent-install.js";

interface RunFlags {
  config?: string;
  controlPlane?: string;
  token?: string;
  metricsListen?: string;
  stateDir?: string;
  nvidiaSmi?: string;
  kmsg?: string;
  simulate?: string;
}

const hostAgent = () => import("@podkit/host-agent");

/** What `agent run` starts with: flags > PODKIT_AGENT_* > `[agent]` in the file (default /etc/podkit/agent.toml) > defaults. */
export async function agentConfig(
  flags: RunFlags,
  sources: ConfigSources = { searchPaths: [AGENT_CONFIG_PATH] },
) {
  const { AgentConfigSchema } = await hostAgent();
  return commandConfig(
    AgentConfigSchema,
    { section: "agent", what: "agent configuration" },
    {
      controlPlane: flags.controlPlane,
      token: flags.token,
      metricsListen: flags.metricsListen,
      stateDir: flags.stateDir,
      nvidiaSmiPath: flags.nvidiaSmi,
      kmsgPath: flags.kmsg,
      simulate: flags.simulate,
    },
    { ...sources, configFile: flags.config },
  ).config;
}

/**
 * The command a systemd unit should start: this very CLI by absolute path (node with the daemon's
 * flags and the script, or the single executable alone, which takes no Node flags and tunes its
 * heap itself). Under `--root`, a program inside that root is named by its path there.
 */
async function selfCommand(root: string): Promise<string> {
  const { NODE_FLAGS } = await hostAgent();
  const inRoot = (path: string): string => {
    const prefix = realpathSync(root).replace(/\/$/, "");
    return prefix && path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
  };
  const [command, ...script] = selfArgv();
  if (script.length === 0) return inRoot(realpathSync(command));
  return [command, NODE_FLAGS, ...script.map(inRoot)].join(" ");
}

// Long: one commander block per verb, flat.
export function registerAgentCommands(program: Command, output: Output): void {
  // Long but flat: one commander block per verb (its options and a short handler), in `--help` order.
  const agent = program
    .command("agent")
    .description(
      "the host agent on every GPU machine: run it, see its status, install it, burn-test the machine",
    );

  agent
    .command("run")
    .description(
      "run the agent in the foreground (what systemd starts); without --control-plane it runs standalone",
    )
    .option("--config <file>", `config file (default ${AGENT_CONFIG_PATH}, table [agent])`)
    .option("--control-plane <url>", "control plane base URL, e.g. https://podkit.example.com")
    .option("--token <token>", "enrolment token (pke_…, used once) or host token (pkh_…)")
    .option("--metrics-listen <addr>", "Prometheus endpoint address (default 127.0.0.1:9101; port 0 = any)")
    .option("--state-dir <dir>", `outbox, credentials and status (default ${STATE_DIR})`)
    .option("--nvidia-smi <path>", "nvidia-smi to run (default: nvidia-smi on PATH)")
    .option("--kmsg <path>", 'kernel log: /dev/kmsg (default), a log file, or "journalctl"')
    .option(
      "--simulate <capture>",
      "replay a recorded capture instead of reading GPUs (h100-8x, rtx4090-8x); reported as simulated",
    )
    .action(async (flags: RunFlags) => {
      // The systemd unit starts node with NODE_FLAGS (README, Performance); by hand, Node's defaults.
      const heap = tuneHeapForDaemon();
      const cfg = await agentConfig(flags);
      const { startAgent } = await hostAgent();
      // Listen for SIGTERM before starting: a stop during the first collection (a hung nvidia-smi)
      // or enrolment aborts it and kills what it runs, instead of leaving the child behind.
      const stopping = new AbortController();
      const stop = () => stopping.abort();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      const handle = await startAgent({
        compactHeap: heap.compact,
        stateDir: cfg.stateDir,
        metricsListen: cfg.metricsListen,
        ...(cfg.controlPlane ? { controlPlane: cfg.controlPlane } : {}),
        ...(cfg.token ? { token: cfg.token } : {}),
        nvidiaSmiPath: cfg.nvidiaSmiPath,
        kmsgPath: cfg.kmsgPath,
        ...(cfg.simulate ? { simulate: cfg.simulate } : {}),
        gpuIntervalMs: cfg.gpuIntervalSeconds * 1000,
        reportIntervalMs: cfg.reportIntervalSeconds * 1000,
        heartbeatIntervalMs: cfg.heartbeatIntervalSeconds * 1000,
        pingIntervalMs: cfg.pingIntervalSeconds * 1000,
        collectorTimeoutMs: cfg.collectorTimeoutSeconds * 1000,
        reconnectMaxMs: cfg.reconnectMaxSeconds * 1000,
        signal: stopping.signal,
      });
      if (!stopping.signal.aborted) {
        output.err(`podkit agent: metrics on ${handle.metricsUrl}, state in ${cfg.stateDir}`);
        await new Promise((resolve) => stopping.signal.addEventListener("abort", resolve, { once: true }));
      }
      await handle.close();
    });

  agent
    .command("status")
    .description("health, GPUs, listing, maintenance windows and control-plane connection of this machine")
    .option("--state-dir <dir>", "the agent's state directory", STATE_DIR)
    .option("--json", "print JSON")
    .action(async (flags: { stateDir: string; json?: boolean }) => {
      const { formatStatusText, readJsonFile } = await hostAgent();
      const status = readJsonFile<AgentStatus>(join(flags.stateDir, "status.json"));
      if (!status) {
        throw new NotFoundError(
          `no agent status in ${flags.stateDir}: start the agent (\`podkit agent run\` or \`systemctl start podkit-agent\`) or pass --state-dir`,
        );
      }
      if (flags.json) printJson(output, status);
      else output.out(formatStatusText(status, new Date()));
    });

  agent
    .command("install")
    .description(
      "write and enable the systemd unit podkit-agent.service (runs as root, config in /etc/podkit/agent.toml); without a running systemd it writes the files, prints the command to start the agent and exits 7",
    )
    .option("--control-plane <url>", "control plane URL for the config file (replaces the one there)")
    .option("--token <token>", "enrolment token for the config file (mode 0600; replaces the one there)")
    .option("--metrics-listen <addr>", "Prometheus endpoint address for the config file")
    .option(
      "--root <dir>",
      "install under another root directory (packaging, tests); implies --no-enable",
      "/",
    )
    .option("--no-enable", "only write the files; do not run systemctl")
    .action(
      async (flags: {
        controlPlane?: string;
        token?: string;
        metricsListen?: string;
        root: string;
        enable: boolean;
      }) => {
        const hostAgentModule = await hostAgent();
        install(
          hostAgentModule,
          { ...flags, enable: flags.enable && flags.root === "/", execStart: await selfCommand(flags.root) },
          { running: hostAgentModule.systemdRunning() },
          output,
        );
      },
    );

  agent
    .command("uninstall")
    .description(
      "stop and remove podkit-agent.service (config and state stay unless --purge); works without systemd too",
    )
    .option("--root <dir>", "uninstall from another root directory; implies --no-disable", "/")
    .option("--no-disable", "only remove files; do not run systemctl")
    .option(
      "--purge",
      "also remove /etc/podkit/agent.toml, the state directory (credentials, outbox) and the directories install created",
    )
    .action(async (flags: { root: string; disable: boolean; purge?: boolean }) => {
      const hostAgentModule = await hostAgent();
      uninstall(
        hostAgentModule,
        { root: flags.root, disable: flags.disable && flags.root === "/", purge: flags.purge === true },
        { running: hostAgentModule.systemdRunning() },
        output,
      );
    });

  agent
    .command("reset-gpu")
    .description("reset one GPU (nvidia-smi --gpu-reset): only when unrented or inside a maintenance window")
    .requiredOption("--gpu <index>", "GPU index", (v) => Number(v))
    .option("--state-dir <dir>", "the agent's state directory", STATE_DIR)
    .option("--nvidia-smi <path>", "nvidia-smi to run", "nvidia-smi")
    .option("--dry-run", "check the maintenance rules and print the command without running it")
    .action(async (flags: { gpu: number; stateDir: string; nvidiaSmi: string; dryRun?: boolean }) => {
      if (!Number.isInteger(flags.gpu) || flags.gpu < 0)
        throw new PodkitError("E_INVALID_INPUT", "--gpu must be a GPU index (0, 1, …)");
      const { runDisruptiveAction } = await hostAgent();
      const r = await runDisruptiveAction({
        stateDir: flags.stateDir,
        action: "gpu-reset",
        gpuIndex: flags.gpu,
        nvidiaSmiPath: flags.nvidiaSmi,
        dryRun: flags.dryRun === true,
      });
      output.out(
        `${r.ran ? "ran" : "would run"}: ${r.command.join(" ")} (${r.decision.reason})${r.output ? `\n${r.output}` : ""}`,
      );
    });

  agent
    .command("reboot")
    .description("reboot the machine through the agent: only when unrented or inside a maintenance window")
    .option("--state-dir <dir>", "the agent's state directory", STATE_DIR)
    .option("--dry-run", "check the maintenance rules and print the command without running it")
    .action(async (flags: { stateDir: string; dryRun?: boolean }) => {
      const { runDisruptiveAction } = await hostAgent();
      const r = await runDisruptiveAction({
        stateDir: flags.stateDir,
        action: "reboot",
        dryRun: flags.dryRun === true,
      });
      output.out(`${r.ran ? "ran" : "would run"}: ${r.command.join(" ")} (${r.decision.reason})`);
    });

  agent
    .command("burn-test")
    .description(
      "unlist the machine, burn GPUs (gpu-burn), CPU, memory and disk (stress-ng), report, relist if all passed",
    )
    .option("--gpu-seconds <n>", "gpu-burn duration", (v) => Number(v), 3600)
    .option("--cpu-seconds <n>", "stress-ng duration", (v) => Number(v), 600)
    .option("--memory", "also stress memory (stress-ng --vm with verification)")
    .option("--memory-bytes <size>", "memory to stress (stress-ng size, e.g. 75% or 4G)", "75%")
    .option("--disk <path>", "also stress the disk holding PATH (stress-ng --hdd)")
    .option("--state-dir <dir>", "the agent's state directory", STATE_DIR)
    .option("--hooks-dir <dir>", "executables run before and after with the result", "/etc/podkit/burn.d")
    .option("--gpu-burn <path>", "gpu-burn binary (default: gpu_burn on PATH)")
    .option("--nvidia-smi <path>", "nvidia-smi for temperatures", "nvidia-smi")
    .option("--kmsg <path>", "kernel log to watch for XIDs", "/dev/kmsg")
    .option("--json", "print the report as JSON")
    .action(
      async (flags: {
        gpuSeconds: number;
        cpuSeconds: number;
        memory?: boolean;
        memoryBytes: string;
        disk?: string;
        stateDir: string;
        hooksDir: string;
        gpuBurn?: string;
        nvidiaSmi: string;
        kmsg: string;
        json?: boolean;
      }) => {
        for (const [name, v] of [
          ["--gpu-seconds", flags.gpuSeconds],
          ["--cpu-seconds", flags.cpuSeconds],
        ] as const) {
          if (!Number.isInteger(v) || v < 0)
            throw new PodkitError("E_INVALID_INPUT", `${name} must be a whole number of seconds`);
        }
        const { NvidiaSmiSource, runBurnTest, summarizeBurnTest } = await hostAgent();
        const report = await runBurnTest({
          stateDir: flags.stateDir,
          gpuSeconds: flags.gpuSeconds,
          cpuSeconds: flags.cpuSeconds,
          memory: flags.memory === true,
          memoryBytes: flags.memoryBytes,
          ...(flags.disk ? { disk: flags.disk } : {}),
          hooksDir: flags.hooksDir,
          ...(flags.gpuBurn ? { gpuBurnPath: flags.gpuBurn } : {}),
          gpuSource: new NvidiaSmiSource({ path: flags.nvidiaSmi, timeoutMs: 10_000 }),
          kmsgPath: flags.kmsg,
        });
        if (flags.json) printJson(output, report);
        else output.out(`${summarizeBurnTest(report).trimEnd()}\nreport: ${report.reportPath}`);
        if (!report.passed)
          throw new PodkitError(
            "E_BURN_TEST_FAILED",
            `burn test failed: ${report.problems.length} problem(s), see ${report.summaryPath}`,
          );
      },
    );
}

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { AGENT_CONFIG_PATH, STATE_DIR } from "./constants.js";
import { writeFileAtomic } from "./state-files.js";

export { STATE_DIR };

export const UNIT_NAME = "podkit-agent.service";
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;

/**
 * Node flags for the daemon, set where the process starts (V8 flags flipped after start are
 * unsafe): the young generation capped before any module loads, no optimising compiler (~9 MB of
 * compile zones and code for ~20 ms of work every 10 s), and `gc` exposed for the mark-compact
 * after each cycle (`tuneHeapForDaemon`). Measured in the README (Performance).
 */
export const NODE_FLAGS = "--max-semi-space-size=1 --no-opt --expose-gc";

/** The unit systemd runs: as root (nvidia-smi and /dev/kmsg need it), restarted on failure. */
export function unitText(execStart: string): string {
  return `[Unit]
Description=Podkit host agent (GPU health, metrics and reporting)
Documentation=https://github.com/podkit/podkit/tree/main/packages/host-agent
Wants=network-online.target
After=network-online.target nvidia-persistenced.service

[Service]
Type=simple
User=root
ExecStart=${execStart} agent run --config ${AGENT_CONFIG_PATH} --state-dir ${STATE_DIR}
Restart=on-failure
RestartSec=5s
# Stop quickly: the outbox is durable, nothing is lost when the agent stops mid-cycle.
TimeoutStopSec=20s
StateDirectory=podkit/agent
StateDirectoryMode=0700

[Install]
WantedBy=multi-user.target
`;
}

export function configText(options: {
  controlPlane?: string;
  token?: string;
  metricsListen?: string;
}): string {
  const q = (s: string) => JSON.stringify(s);
  return [
    "# Podkit host agent configuration (flags and PODKIT_AGENT_* variables override it).",
    "[agent]",
    options.controlPlane
      ? `controlPlane = ${q(options.controlPlane)}`
      : '# controlPlane = "https://podkit.example.com"',
    options.token ? `token = ${q(options.token)}` : '# token = "pke_…"  # from `podkit hosts enroll`',
    `metricsListen = ${q(options.metricsListen ?? "127.0.0.1:9101")}`,
    `stateDir = ${q(STATE_DIR)}`,
    "",
  ].join("\n");
}

export interface InstallOptions {
  /** Prefix for every path (tests install into a temporary root). */
  root?: string;
  execStart: string;
  controlPlane?: string;
  token?: string;
  metricsListen?: string;
  /** Run `systemctl daemon-reload` and `enable --now` (only sensible with root "/"). */
  enable?: boolean;
}

export interface InstallResult {
  unitPath: string;
  configPath: string;
  configWritten: boolean;
  enabled: boolean;
}

function systemctl(...args: string[]): void {
  const r = spawnSync("systemctl", args, { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new Error(`systemctl ${args.join(" ")} failed: ${r.error?.message ?? r.stderr.trim()}`);
  }
}

/** Write the unit and (if absent) the config with mode 0600 — it may hold a token. An existing config is kept. */
export function installAgent(options: InstallOptions): InstallResult {
  const root = options.root ?? "/";
  const unitPath = join(root, UNIT_PATH);
  const configPath = join(root, AGENT_CONFIG_PATH);
  writeFileAtomic(unitPath, unitText(options.execStart));
  const configWritten = !existsSync(configPath);
  if (configWritten) writeFileAtomic(configPath, configText(options), 0o600);
  mkdirSync(join(root, STATE_DIR), { recursive: true, mode: 0o700 });
  if (options.enable) {
    systemctl("daemon-reload");
    systemctl("enable", "--now", UNIT_NAME);
  }
  return { unitPath, configPath, configWritten, enabled: options.enable === true };
}

/** Stop and remove the unit. Config and state (credentials, outbox) stay unless `purge`. */
export function uninstallAgent(options: { root?: string; disable?: boolean; purge?: boolean }): string[] {
  const root = options.root ?? "/";
  const removed: string[] = [];
  if (options.disable) systemctl("disable", "--now", UNIT_NAME);
  const unitPath = join(root, UNIT_PATH);
  if (existsSync(unitPath)) {
    rmSync(unitPath);
    removed.push(unitPath);
  }
  if (options.purge) {
    for (const p of [join(root, AGENT_CONFIG_PATH), join(root, STATE_DIR)]) {
      if (existsSync(p)) {
        rmSync(p, { recursive: true, force: true });
        removed.push(p);
      }
    }
  }
  if (options.disable) systemctl("daemon-reload");
  return removed;
}

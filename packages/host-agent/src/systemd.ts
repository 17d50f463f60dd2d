import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PodkitError } from "@podkit/core";
import { AGENT_CONFIG_PATH, STATE_DIR } from "./constants.js";
import { readJsonFile, writeFileAtomic } from "./state-files.js";

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
  /** Run `systemctl daemon-reload` and `enable --now` (only sensible with root "/" and systemd running). */
  enable?: boolean;
  /** How systemctl is run (tests record the calls). */
  systemctl?: (...args: string[]) => void;
}

export interface InstallResult {
  unitPath: string;
  configPath: string;
  /** written: there was none; replaced: new values (named in `changed`) over an existing one; kept: as it was. */
  config: "written" | "replaced" | "kept";
  changed: string[];
  enabled: boolean;
  /** The command the unit starts, for starting the agent without systemd. */
  command: string;
}

/** Where install notes the directories it created, so that `uninstall --purge` removes them and only them. */
export const INSTALL_RECORD = "install.json";

/** systemd is PID 1 and running (sd_booted(3): its runtime directory exists). */
export function systemdRunning(root = "/"): boolean {
  return existsSync(join(root, "run/systemd/system"));
}

function runSystemctl(...args: string[]): void {
  const r = spawnSync("systemctl", args, { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw new PodkitError(
      "E_SYSTEMD",
      `systemctl ${args.join(" ")} failed: ${r.error?.message ?? r.stderr.trim()}`,
    );
  }
}

/** mkdir -p that returns the directories it created, outermost first. */
function makeDirs(path: string, mode?: number): string[] {
  const first = mkdirSync(path, { recursive: true, ...(mode === undefined ? {} : { mode }) });
  if (!first) return [];
  const created = [path];
  for (let d = dirname(path); d.length >= first.length && d !== dirname(d); d = dirname(d))
    created.unshift(d);
  return created;
}

const CONFIG_KEYS = ["controlPlane", "token", "metricsListen"] as const;

/**
 * The existing config with the given values in place of its own (other settings and comments
 * stay), and the names of those that changed.
 */
export function updateConfigText(
  text: string,
  values: Partial<Record<(typeof CONFIG_KEYS)[number], string>>,
): { text: string; changed: string[] } {
  const lines = text.split("\n");
  const changed: string[] = [];
  for (const key of CONFIG_KEYS) {
    const value = values[key];
    if (value === undefined) continue;
    const line = `${key} = ${JSON.stringify(value)}`;
    const at = lines.findIndex((l) => new RegExp(`^\\s*${key}\\s*=`).test(l));
    if (at >= 0) {
      if (lines[at]!.trim() === line) continue;
      lines[at] = line;
    } else {
      let header = lines.findIndex((l) => /^\s*\[agent\]\s*(#.*)?$/.test(l));
      if (header < 0) {
        lines.push("[agent]");
        header = lines.length - 1;
      }
      lines.splice(header + 1, 0, line);
    }
    changed.push(key);
  }
  return { text: lines.join("\n"), changed };
}

/**
 * Write the unit and the config (mode 0600 — it holds a token): a new one, or the existing one with
 * the given values replaced (kept as it is when none is given). Directories it creates are noted
 * in the state directory for `uninstall --purge`.
 */
export function installAgent(options: InstallOptions): InstallResult {
  const root = options.root ?? "/";
  const unitPath = join(root, UNIT_PATH);
  const configPath = join(root, AGENT_CONFIG_PATH);
  const stateDir = join(root, STATE_DIR);
  const recordPath = join(stateDir, INSTALL_RECORD);
  const created = [
    ...makeDirs(dirname(unitPath)),
    ...makeDirs(dirname(configPath)),
    ...makeDirs(stateDir, 0o700),
  ];
  const earlier = readJsonFile<{ created: string[] }>(recordPath)?.created ?? [];
  const record = [...new Set([...earlier, ...created.map((d) => `/${relative(root, d)}`)])];
  writeFileAtomic(recordPath, `${JSON.stringify({ created: record }, null, 2)}\n`, 0o600);
  writeFileAtomic(unitPath, unitText(options.execStart));
  let config: InstallResult["config"] = "written";
  let changed: string[] = [];
  if (existsSync(configPath)) {
    const given = {
      controlPlane: options.controlPlane,
      token: options.token,
      metricsListen: options.metricsListen,
    };
    const updated = updateConfigText(readFileSync(configPath, "utf8"), given);
    changed = updated.changed;
    config = changed.length ? "replaced" : "kept";
    if (changed.length) writeFileAtomic(configPath, updated.text, 0o600);
  } else {
    writeFileAtomic(configPath, configText(options), 0o600);
  }
  if (options.enable) {
    const systemctl = options.systemctl ?? runSystemctl;
    systemctl("daemon-reload");
    systemctl("enable", "--now", UNIT_NAME);
  }
  return {
    unitPath,
    configPath,
    config,
    changed,
    enabled: options.enable === true,
    command: `${options.execStart} agent run --config ${AGENT_CONFIG_PATH} --state-dir ${STATE_DIR}`,
  };
}

/**
 * Stop and remove the unit. With `purge`, also the config, the state (credentials, outbox) and
 * every directory install created, if nothing else is in it; a directory that holds something
 * else stays and is named in `kept`.
 */
export function uninstallAgent(options: {
  root?: string;
  disable?: boolean;
  purge?: boolean;
  systemctl?: (...args: string[]) => void;
}): { removed: string[]; kept: string[] } {
  const root = options.root ?? "/";
  const systemctl = options.systemctl ?? runSystemctl;
  const removed: string[] = [];
  const kept: string[] = [];
  const unitPath = join(root, UNIT_PATH);
  const stateDir = join(root, STATE_DIR);
  const created = (readJsonFile<{ created: string[] }>(join(stateDir, INSTALL_RECORD))?.created ?? []).map(
    (d) => join(root, d),
  );
  if (options.disable && existsSync(unitPath)) systemctl("disable", "--now", UNIT_NAME);
  const remove = (p: string) => {
    if (!existsSync(p)) return;
    rmSync(p, { recursive: true, force: true });
    removed.push(p);
  };
  remove(unitPath);
  if (options.purge) {
    remove(join(root, AGENT_CONFIG_PATH));
    remove(stateDir);
  }
  // Deepest first, so /var/lib/podkit goes after /var/lib/podkit/agent.
  const dirs = options.purge ? [...created].sort((a, b) => b.length - a.length) : [];
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    if (readdirSync(dir).length > 0) {
      kept.push(dir);
      continue;
    }
    rmdirSync(dir);
    removed.push(dir);
  }
  if (options.disable) systemctl("daemon-reload");
  return { removed, kept };
}

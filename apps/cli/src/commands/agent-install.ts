import { UnavailableError } from "@podkit/core";
import type { Output } from "../output.js";

type HostAgent = typeof import("@podkit/host-agent");

export interface InstallFlags {
  controlPlane?: string;
  token?: string;
  metricsListen?: string;
  root: string;
  /** Start the unit with systemd (the CLI asks only for root "/"). */
  enable: boolean;
}

export interface SystemdAccess {
  /** systemd runs on this machine (checked only when the unit is to be enabled). */
  running: boolean;
  systemctl?: (...args: string[]) => void;
}

/**
 * `podkit agent install`: write the files, then start the unit with systemd — or, on a machine
 * without a running systemd (a container, WSL), say so and how to start the agent instead, and
 * end with E_UNAVAILABLE (exit 7): the files are there, the agent is not running.
 */
export function install(
  agent: Pick<HostAgent, "installAgent">,
  flags: InstallFlags & { execStart: string },
  systemd: SystemdAccess,
  output: Output,
): void {
  const enable = flags.enable;
  const r = agent.installAgent({
    root: flags.root,
    execStart: flags.execStart,
    ...(flags.controlPlane ? { controlPlane: flags.controlPlane } : {}),
    ...(flags.token ? { token: flags.token } : {}),
    ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
    enable: enable && systemd.running,
    ...(systemd.systemctl ? { systemctl: systemd.systemctl } : {}),
  });
  output.out(`wrote ${r.unitPath}`);
  if (r.config === "written") output.out(`wrote ${r.configPath}`);
  else if (r.config === "kept") output.out(`kept existing ${r.configPath}`);
  else output.out(`replaced ${r.changed.join(", ")} in ${r.configPath} (the other settings stay)`);
  if (r.enabled) {
    output.out("enabled and started podkit-agent.service");
    return;
  }
  if (!enable) {
    output.out("not enabled: run `systemctl daemon-reload && systemctl enable --now podkit-agent`");
    return;
  }
  throw new UnavailableError(
    [
      "systemd is not running on this machine (a container or WSL?), so podkit-agent.service was written but not started.",
      "Start the agent yourself, in a terminal, tmux or the container's entrypoint:",
      `  ${r.command}`,
    ].join("\n"),
  );
}

/** `podkit agent uninstall`: with systemd, stop and disable the unit first; without, remove the files. */
export function uninstall(
  agent: Pick<HostAgent, "uninstallAgent">,
  flags: { root: string; disable: boolean; purge: boolean },
  systemd: SystemdAccess,
  output: Output,
): void {
  const disable = flags.disable;
  const r = agent.uninstallAgent({
    root: flags.root,
    disable: disable && systemd.running,
    purge: flags.purge,
    ...(systemd.systemctl ? { systemctl: systemd.systemctl } : {}),
  });
  const lines = r.removed.map((p) => `removed ${p}`);
  for (const dir of r.kept) lines.push(`kept ${dir}: it holds files install did not write`);
  if (disable && !systemd.running)
    lines.push("systemd is not running: stop a `podkit agent run` you started yourself");
  output.out(lines.length ? lines.join("\n") : "nothing to remove");
}

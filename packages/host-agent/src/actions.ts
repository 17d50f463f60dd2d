import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConflictError, PodkitError } from "@podkit/core";
import { runCommand } from "./exec.js";
import { checkDisruptiveAction, type DisruptiveAction, type MaintenanceDecision } from "./maintenance.js";
import type { HostState } from "./report/connection.js";
import { enqueueEvent } from "./report/events.js";
import { Outbox } from "./report/outbox.js";
import { readJsonFile } from "./state-files.js";

/** The platform rule applied to this machine, from what the agent last heard (`host-state.json`). */
export function decideDisruptiveAction(
  stateDir: string,
  action: DisruptiveAction,
  now = new Date(),
): MaintenanceDecision {
  const hostState = readJsonFile<HostState>(join(stateDir, "host-state.json"));
  const standalone = !existsSync(join(stateDir, "credentials.json"));
  return checkDisruptiveAction(
    action,
    { standalone, rented: hostState?.rented ?? null, windows: hostState?.maintenanceWindows ?? [] },
    now,
  );
}

/** Refuse (ConflictError, exit 6) with the reason and the next window, or return the decision. */
export function requireDisruptiveAllowed(stateDir: string, action: DisruptiveAction): MaintenanceDecision {
  const decision = decideDisruptiveAction(stateDir, action);
  if (!decision.allowed) throw new ConflictError(decision.reason, { nextWindow: decision.nextWindow });
  return decision;
}

/** Tell the control plane (through the durable outbox) what the host did. */
export function enqueueNotice(stateDir: string, message: string): void {
  enqueueEvent(new Outbox(join(stateDir, "outbox")), { kind: "notice", message }, "notice");
}

export interface ActionResult {
  decision: MaintenanceDecision;
  command: string[];
  ran: boolean;
  output: string;
}

/**
 * `podkit agent reset-gpu` / `reboot`: only when the maintenance rules allow it, then the
 * command (`nvidia-smi --gpu-reset -i N`, `systemctl reboot`), and a notice to the control plane.
 */
export async function runDisruptiveAction(options: {
  stateDir: string;
  action: "gpu-reset" | "reboot";
  gpuIndex?: number;
  nvidiaSmiPath?: string;
  dryRun?: boolean;
}): Promise<ActionResult> {
  const decision = requireDisruptiveAllowed(options.stateDir, options.action);
  const command =
    options.action === "gpu-reset"
      ? [options.nvidiaSmiPath ?? "nvidia-smi", "--gpu-reset", "-i", String(options.gpuIndex ?? 0)]
      : ["systemctl", "reboot"];
  if (options.dryRun) return { decision, command, ran: false, output: "" };
  enqueueNotice(
    options.stateDir,
    `${options.action}${options.gpuIndex === undefined ? "" : ` of GPU ${options.gpuIndex}`} started: ${decision.reason}`,
  );
  const r = await runCommand(command[0]!, command.slice(1), { timeoutMs: 180_000 });
  const output = `${r.stdout}${r.stderr}`.trim();
  if (r.spawnError || r.timedOut || r.exitCode !== 0) {
    throw new PodkitError(
      "E_ACTION_FAILED",
      `${command.join(" ")} failed (${r.spawnError ?? (r.timedOut ? "timed out" : `exit ${r.exitCode}`)}): ${output.split("\n")[0] ?? ""}`,
    );
  }
  return { decision, command, ran: true, output };
}

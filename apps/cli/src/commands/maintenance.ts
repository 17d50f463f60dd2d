import { type MaintenanceWindow, ValidationError } from "@podkit/core";
import type { Command } from "commander";
import { formatTable, type Output, printJson } from "../output.js";
import { type ApiFlags, api, withApiOptions } from "./control-plane.js";

function printWindows(output: Output, windows: MaintenanceWindow[]): void {
  output.out(
    formatTable(
      ["ID", "HOST", "START", "END", "STATUS", "REASON"],
      windows.map((w) => [
        w.id,
        w.hostId,
        w.start,
        w.end,
        w.immediate ? `${w.status} (immediate)` : w.status,
        w.reason ?? "",
      ]),
    ),
  );
}

export function registerMaintenanceCommands(program: Command, output: Output): void {
  const m = program
    .command("maintenance")
    .description("maintenance windows: at least 7 days ahead, or immediate on an unrented machine");

  withApiOptions(m.command("schedule").argument("<host>", "host id or hostname"))
    .description("schedule a maintenance window (the machine leaves the pool 4 days before it)")
    .option("--start <iso>", "start time, ISO 8601 (e.g. 2026-12-10T02:00:00Z); at least 7 days ahead")
    .requiredOption("--duration <duration>", "how long, e.g. 4h or 90m")
    .option("--immediate", "start now (only while the machine is unrented)")
    .option("--reason <text>", "why (shown to the operator)")
    .option("--json", "print JSON")
    .action(
      async (
        host: string,
        opts: ApiFlags & {
          start?: string;
          duration: string;
          immediate?: boolean;
          reason?: string;
          json?: boolean;
        },
      ) => {
        if (opts.immediate && opts.start) {
          throw new ValidationError("flags", [
            { path: "--start", message: "--immediate starts now; leave out --start" },
          ]);
        }
        if (!opts.immediate && !opts.start) {
          throw new ValidationError("flags", [
            { path: "--start", message: "give --start ISO_TIME (at least 7 days ahead) or --immediate" },
          ]);
        }
        if (opts.start && !Number.isFinite(Date.parse(opts.start))) {
          throw new ValidationError("--start", [
            { path: "--start", message: `not an ISO time: "${opts.start}"` },
          ]);
        }
        const window = await api<MaintenanceWindow>(opts, "POST", "/api/v1/maintenance", {
          hostId: host,
          ...(opts.start ? { start: new Date(Date.parse(opts.start)).toISOString() } : {}),
          duration: opts.duration,
          immediate: opts.immediate === true,
          ...(opts.reason ? { reason: opts.reason } : {}),
        });
        if (opts.json) return printJson(output, window);
        output.out(
          `scheduled ${window.id} on ${window.hostId}: ${window.start} – ${window.end} (${window.status})`,
        );
      },
    );

  withApiOptions(m.command("list"))
    .description("maintenance windows not yet over (--all for past and cancelled too)")
    .option("--host <host>", "only this host")
    .option("--all", "include finished and cancelled windows")
    .option("--json", "print JSON")
    .action(async (opts: ApiFlags & { host?: string; all?: boolean; json?: boolean }) => {
      const q = new URLSearchParams();
      if (opts.host) q.set("host", opts.host);
      if (opts.all) q.set("all", "true");
      const windows = await api<MaintenanceWindow[]>(opts, "GET", `/api/v1/maintenance?${q}`);
      if (opts.json) return printJson(output, windows);
      printWindows(output, windows);
    });

  withApiOptions(m.command("cancel").argument("<id>", "maintenance window id (see maintenance list)"))
    .description("cancel a window (an active one ends now); the machine is relisted if nothing else holds it")
    .option("--json", "print JSON")
    .action(async (id: string, opts: ApiFlags & { json?: boolean }) => {
      const window = await api<MaintenanceWindow>(
        opts,
        "DELETE",
        `/api/v1/maintenance/${encodeURIComponent(id)}`,
      );
      if (opts.json) return printJson(output, window);
      output.out(`${window.id} on ${window.hostId}: ${window.status}`);
    });
}

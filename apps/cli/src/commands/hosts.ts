import type { FleetEvent, HostView, Rental } from "@podkit/control-plane";
import { ConflictError, parseDuration, ValidationError } from "@podkit/core";
import type { Command } from "commander";
import { formatTable, type Output, printJson } from "../output.js";
import { type ApiFlags, api, withApiOptions } from "./control-plane.js";

const pct = (r: number) => `${(r * 100).toFixed(2)}%`;

function gpuSummary(h: HostView): string {
  if (h.gpusKnown === false) return "unknown";
  const counts = new Map<string, number>();
  for (const g of h.gpus) counts.set(g.name, (counts.get(g.name) ?? 0) + 1);
  return [...counts].map(([name, n]) => `${n}x ${name}`).join(", ") || "-";
}

// Long: one commander block per verb, flat.
export function registerHostCommands(program: Command, output: Output): void {
  // Long but flat: one commander block per verb (its options and a short handler), in `--help` order.
  const hosts = program.command("hosts").description("GPU hosts known to the control plane");

  withApiOptions(hosts.command("list"))
    .description("list hosts with their GPUs, health, listing state and reliability")
    .option("--json", "print JSON (array of hosts with id, gpus, health, listing, reliability…)")
    .action(async (opts: ApiFlags & { json?: boolean }) => {
      const list = await api<HostView[]>(opts, "GET", "/api/v1/hosts");
      if (opts.json) return printJson(output, list);
      output.out(
        formatTable(
          ["HOST", "GPUS", "HEALTH", "LISTING", "RELIABILITY", "AGENT", "RENTED"],
          list.map((h) => [
            h.id,
            gpuSummary(h),
            h.health ?? "unknown",
            h.listingReasons.length ? `${h.listing} (${h.listingReasons.join(", ")})` : h.listing,
            pct(h.reliability),
            h.online ? "online" : "offline",
            h.rented ? (h.renter ?? "yes") : "",
          ]),
        ),
      );
    });

  withApiOptions(hosts.command("show").argument("<host>", "host id or hostname"))
    .description("one host: GPUs, health, listing, reliability, maintenance and recent events")
    .option("--json", "print JSON")
    .action(async (host: string, opts: ApiFlags & { json?: boolean }) => {
      const h = await api<
        HostView & { reliabilityWindow: { downtimeMinutes: number; maintenanceMinutes: number } }
      >(opts, "GET", `/api/v1/hosts/${encodeURIComponent(host)}`);
      if (opts.json) return printJson(output, h);
      const events = await api<FleetEvent[]>(
        opts,
        "GET",
        `/api/v1/events?host=${encodeURIComponent(h.id)}&limit=10`,
      );
      output.out(
        [
          `host:         ${h.id} (${h.hostname})`,
          `health:       ${h.health ?? "unknown"}${h.healthReasons.length ? ` — ${h.healthReasons.map((r) => `${r.code}: ${r.message}`).join("; ")}` : ""}`,
          `listing:      ${h.listing}${h.listingReasons.length ? ` (${h.listingReasons.join(", ")})` : ""} since ${h.listingSince}`,
          `reliability:  ${pct(h.reliability)} over 30 days (${h.reliabilityWindow.downtimeMinutes} min down, ${h.reliabilityWindow.maintenanceMinutes} min maintenance)`,
          `agent:        ${h.online ? "online" : "offline"}, last seen ${h.lastSeenAt ?? "never"}`,
          `rented:       ${h.rented ? `by ${h.renter}` : "no"}`,
          `maintenance:  ${h.maintenance.next ? `${h.maintenance.next.id} ${h.maintenance.next.start} – ${h.maintenance.next.end} (${h.maintenance.next.status})` : "none planned"}${h.maintenance.excessive ? " — EXCESSIVE" : ""}`,
          "",
          formatTable(
            ["GPU", "MODEL", "PCI", "HEALTH", "TEMP", "UTIL"],
            h.gpus.map((g) => [
              g.index,
              g.name,
              g.pciBusId,
              g.health ?? "unknown",
              g.temperatureCelsius === null ? null : `${g.temperatureCelsius} C`,
              g.utilizationRatio === null ? null : pct(g.utilizationRatio),
            ]),
          ),
          "",
          ...events.map((e) => `${e.at}  ${e.kind}  ${e.message}`),
        ].join("\n"),
      );
    });

  withApiOptions(hosts.command("enroll"))
    .description(
      "create a one-time enrolment token for a new host's agent (on the host: podkit agent install --token …)",
    )
    .option("--ttl <duration>", "how long the token stays valid", "24h")
    .option("--json", 'print JSON ({"token": "pke_…", "expiresAt": …})')
    .action(async (opts: ApiFlags & { ttl: string; json?: boolean }) => {
      let ttl: number;
      try {
        ttl = parseDuration(opts.ttl);
      } catch (err) {
        throw new ValidationError("--ttl", [{ path: "--ttl", message: (err as Error).message }]);
      }
      const result = await api<{ token: string; expiresAt: string }>(
        opts,
        "POST",
        "/api/v1/enrollment-tokens",
        { ttl },
      );
      if (opts.json) return printJson(output, result);
      output.out(
        `${result.token}\n(one-time, valid until ${result.expiresAt}; on the host: podkit agent install --control-plane URL --token ${result.token})`,
      );
    });

  withApiOptions(hosts.command("rent").argument("<host>", "host id or hostname"))
    .description("mark a listed host rented (the input for the maintenance rules; no billing)")
    .requiredOption("--renter <name>", "who rents it")
    .option("--json", "print JSON")
    .action(async (host: string, opts: ApiFlags & { renter: string; json?: boolean }) => {
      const rental = await api<Rental>(opts, "POST", "/api/v1/rentals", {
        hostId: host,
        renter: opts.renter,
      });
      if (opts.json) return printJson(output, rental);
      output.out(`${rental.hostId} rented by ${rental.renter} (rental ${rental.id})`);
    });

  withApiOptions(hosts.command("free").argument("<host>", "host id or hostname"))
    .description("end the active rental on a host (exit 6 when it is not rented)")
    .option("--json", "print JSON")
    .action(async (host: string, opts: ApiFlags & { json?: boolean }) => {
      const active = await api<Rental[]>(
        opts,
        "GET",
        `/api/v1/rentals?active=true&host=${encodeURIComponent(host)}`,
      );
      // Nothing to end is a conflict with the host's state (exit 6), like the rules' refusals.
      if (active.length === 0) throw new ConflictError(`${host} is not rented: there is no rental to end`);
      const rental = await api<Rental>(
        opts,
        "DELETE",
        `/api/v1/rentals/${encodeURIComponent(active[0]!.id)}`,
      );
      if (opts.json) return printJson(output, rental);
      output.out(`${rental.hostId} is free (rental ${rental.id} ended)`);
    });
}

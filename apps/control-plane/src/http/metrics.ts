import type { FastifyInstance } from "fastify";
import { Gauge, Registry } from "prom-client";
import type { FleetViews } from "../fleet/views.js";

const HEALTH_LABELS = ["healthy", "degraded", "reset-required", "reboot-required", "failed", "unknown"];
const LISTING_LABELS = ["listed", "unlisted", "removed"];

/** Fleet-level gauges, computed from the store at scrape time (every replica reports the whole fleet) from the judgement already stored on each host. */
export function registerMetrics(
  app: FastifyInstance,
  views: FleetViews,
  connectedAgents: () => number,
): void {
  const registry = new Registry();
  const hostsByListing = new Gauge({
    name: "podkit_fleet_hosts",
    help: "Hosts by listing state.",
    labelNames: ["listing"],
    registers: [registry],
  });
  const hostsByHealth = new Gauge({
    name: "podkit_fleet_hosts_by_health",
    help: "Hosts by machine health state (unknown before the first report).",
    labelNames: ["health"],
    registers: [registry],
  });
  const hostsOnline = new Gauge({
    name: "podkit_fleet_hosts_online",
    help: "Hosts that sent a message within the offline limit.",
    registers: [registry],
  });
  const hostsRented = new Gauge({
    name: "podkit_fleet_hosts_rented",
    help: "Hosts with an active rental.",
    registers: [registry],
  });
  const hostsExcessive = new Gauge({
    name: "podkit_fleet_hosts_excessive_maintenance",
    help: "Hosts whose maintenance exceeds the allowed share of 30 days.",
    registers: [registry],
  });
  const gpus = new Gauge({
    name: "podkit_fleet_gpus",
    help: "GPUs by model and health state.",
    labelNames: ["model", "health"],
    registers: [registry],
  });
  const windows = new Gauge({
    name: "podkit_fleet_maintenance_windows",
    help: "Maintenance windows not yet over, by status.",
    labelNames: ["status"],
    registers: [registry],
  });
  const agents = new Gauge({
    name: "podkit_control_plane_agents_connected",
    help: "Agent WebSocket connections held by this replica.",
    registers: [registry],
  });

  app.get("/metrics", async (_req, reply) => {
    const summary = await views.summary();
    for (const g of [hostsByListing, hostsByHealth, gpus, windows]) g.reset();
    for (const l of LISTING_LABELS) hostsByListing.set({ listing: l }, summary.hostsByListing.get(l) ?? 0);
    for (const s of HEALTH_LABELS) hostsByHealth.set({ health: s }, summary.hostsByHealth.get(s) ?? 0);
    hostsOnline.set(summary.online);
    hostsRented.set(summary.rented);
    hostsExcessive.set(summary.excessiveMaintenance);
    for (const g of summary.gpus) gpus.set({ model: g.model, health: g.health }, g.count);
    windows.set({ status: "scheduled" }, summary.windows.scheduled);
    windows.set({ status: "active" }, summary.windows.active);
    agents.set(connectedAgents());
    return reply.header("content-type", registry.contentType).send(await registry.metrics());
  });
}

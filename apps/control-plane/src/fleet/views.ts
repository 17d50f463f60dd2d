import type { HealthVerdict, MachineInfo } from "@podkit/core";
import type { Kysely, Selectable } from "kysely";
import { isOnline } from "../rules/evaluate.js";
import {
  isExcessiveMaintenance,
  maintenanceShare,
  type StoredWindow,
  toMaintenanceWindow,
} from "../rules/maintenance.js";
import { parseJson } from "../store/json.js";
import type { Database, HostsTable } from "../store/schema.js";
import { FACTS_LOOKBACK_MS, toStoredWindow } from "./facts.js";
import { type HostView, toHostView, unknownMachine } from "./host-view.js";
import type { FleetSettings } from "./judge.js";
import { resolveHost } from "./records.js";

type GpuHealth = Array<{ index: number; verdict: HealthVerdict }>;

/** What `/metrics` shows about the whole fleet. */
export interface FleetSummary {
  hostsByListing: Map<string, number>;
  hostsByHealth: Map<string, number>;
  online: number;
  rented: number;
  excessiveMaintenance: number;
  /** GPUs counted by model and health. */
  gpus: Array<{ model: string; health: string; count: number }>;
  windows: { scheduled: number; active: number };
}

/**
 * A JSON column's parsed value per host, kept while the stored text stays the same. Comparing the
 * text is far cheaper than parsing it, and it notices a change made by any replica, so the cache
 * never needs telling. Machine descriptions and GPU verdicts change rarely; parsing them for every
 * host on every fleet page was most of what those pages cost near 5,000 hosts.
 */
class ParsedByText<T> {
  private readonly entries = new Map<string, { text: string; value: T }>();
  constructor(private readonly fallback: (hostId: string) => T) {}

  get(hostId: string, text: string | null): T {
    if (text === null) return this.fallback(hostId);
    const hit = this.entries.get(hostId);
    if (hit && hit.text === text) return hit.value;
    const value = parseJson<T>(text, this.fallback(hostId));
    this.entries.set(hostId, { text, value });
    return value;
  }
}

/**
 * The fleet as the API, the dashboard and `/metrics` show it. Listing state and reliability are
 * the rules' judgement, already stored on each host by the sweep and by every change; these views
 * read them and judge nothing again, and only maintenance windows (few rows) are read besides.
 */
export class FleetViews {
  private readonly machines = new ParsedByText<MachineInfo>(unknownMachine);
  private readonly gpuHealth = new ParsedByText<GpuHealth>(() => []);

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    private readonly settings: FleetSettings,
  ) {}

  async list(filter: (row: HostsTable) => boolean = () => true): Promise<HostView[]> {
    const rows = (await this.db.selectFrom("hosts").selectAll().orderBy("id").execute()).filter(filter);
    return this.toViews(rows);
  }

  /** Listed hosts, plus removed ones this renter has had (their data may still be there). */
  async pool(renter: string | null): Promise<HostView[]> {
    const had = renter
      ? new Set(
          (await this.db.selectFrom("rentals").select("host_id").where("renter", "=", renter).execute()).map(
            (r) => r.host_id,
          ),
        )
      : new Set<string>();
    return this.list(
      (row) => row.listing_state === "listed" || (row.listing_state === "removed" && had.has(row.id)),
    );
  }

  /** One host, reading only its own rows. */
  async one(idOrHostname: string): Promise<HostView> {
    const row = await resolveHost(this.db, idOrHostname);
    return (await this.toViews([row], row.id))[0]!;
  }

  async summary(): Promise<FleetSummary> {
    const { db, settings } = this;
    const now = this.clock();
    const rows = await db
      .selectFrom("hosts")
      .select(["id", "machine", "gpu_health", "health_state", "listing_state", "last_seen_at"])
      .execute();
    const windows = await this.windowsByHost(now);
    const rented = await db
      .selectFrom("rentals")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("ended_at", "is", null)
      .executeTakeFirstOrThrow();
    const summary: FleetSummary = {
      hostsByListing: new Map(),
      hostsByHealth: new Map(),
      online: 0,
      rented: Number(rented.n),
      excessiveMaintenance: 0,
      gpus: [],
      windows: { scheduled: 0, active: 0 },
    };
    const bump = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
    const gpus = new Map<string, { model: string; health: string; count: number }>();
    for (const row of rows) {
      const health = row.health_state ?? "unknown";
      bump(summary.hostsByListing, row.listing_state);
      bump(summary.hostsByHealth, health);
      if (isOnline(row.last_seen_at, now, settings.offlineAfterMs)) summary.online++;
      const own = windows.get(row.id) ?? [];
      if (isExcessiveMaintenance(maintenanceShare(own, now), settings.maxMaintenanceShare))
        summary.excessiveMaintenance++;
      const verdicts = this.gpuHealth.get(row.id, row.gpu_health);
      for (const gpu of this.machines.get(row.id, row.machine).gpus) {
        const gpuHealth = verdicts.find((g) => g.index === gpu.index)?.verdict.state ?? health;
        const key = `${gpu.name}\u0000${gpuHealth}`;
        const entry = gpus.get(key) ?? { model: gpu.name, health: gpuHealth, count: 0 };
        entry.count++;
        gpus.set(key, entry);
      }
    }
    summary.gpus = [...gpus.values()];
    for (const list of windows.values()) {
      for (const w of list) {
        if (w.cancelled || w.end <= now) continue;
        if (w.start > now) summary.windows.scheduled++;
        else summary.windows.active++;
      }
    }
    return summary;
  }

  private async toViews(rows: Selectable<HostsTable>[], onlyHost?: string): Promise<HostView[]> {
    const { db, settings } = this;
    const now = this.clock();
    const windows = await this.windowsByHost(now, onlyHost);
    let rentals = db.selectFrom("rentals").select(["host_id", "renter"]).where("ended_at", "is", null);
    if (onlyHost) rentals = rentals.where("host_id", "=", onlyHost);
    const rentalByHost = new Map((await rentals.execute()).map((r) => [r.host_id, { renter: r.renter }]));
    return rows.map((row) => {
      const own = windows.get(row.id) ?? [];
      const share = maintenanceShare(own, now);
      const next = own.find((w) => !w.cancelled && w.end > now);
      return toHostView(row, {
        now,
        offlineAfterMs: settings.offlineAfterMs,
        rental: rentalByHost.get(row.id) ?? null,
        nextWindow: next ? toMaintenanceWindow(next, now) : null,
        maintenanceShare: share,
        excessiveMaintenance: isExcessiveMaintenance(share, settings.maxMaintenanceShare),
        machine: this.machines.get(row.id, row.machine),
        gpuHealth: this.gpuHealth.get(row.id, row.gpu_health),
      });
    });
  }

  /** Maintenance windows that reach into the look-back, by host, in start order. */
  private async windowsByHost(now: number, onlyHost?: string): Promise<Map<string, StoredWindow[]>> {
    let q = this.db
      .selectFrom("maintenance_windows")
      .selectAll()
      .where("end_at", ">=", now - FACTS_LOOKBACK_MS);
    if (onlyHost) q = q.where("host_id", "=", onlyHost);
    const byHost = new Map<string, StoredWindow[]>();
    for (const row of await q.orderBy("start_at").execute()) {
      const list = byHost.get(row.host_id) ?? [];
      list.push(toStoredWindow(row));
      byHost.set(row.host_id, list);
    }
    return byHost;
  }
}

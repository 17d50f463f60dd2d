import type { HealthState } from "@podkit/core";
import type { Kysely } from "kysely";
import type { HostFacts } from "../rules/evaluate.js";
import type { StoredWindow } from "../rules/maintenance.js";
import type { Database, HostsTable, MaintenanceWindowsTable } from "../store/schema.js";

type FactColumns = Pick<
  HostsTable,
  "id" | "first_seen_at" | "last_seen_at" | "health_state" | "flags" | "listing_reasons"
>;

import { parseJson } from "../store/json.js";

const DAY_MS = 86_400_000;
/** Reliability looks back 30 days, and its history chart 30 days before that. */
export const FACTS_LOOKBACK_MS = 60 * DAY_MS;

export function toStoredWindow(row: MaintenanceWindowsTable): StoredWindow {
  return {
    id: row.id,
    hostId: row.host_id,
    start: row.start_at,
    end: row.end_at,
    immediate: row.immediate === 1,
    cancelled: row.cancelled === 1,
    reason: row.reason,
    createdAt: row.created_at,
  };
}

/** Load the rule inputs for the given hosts (or every host) in three queries. */
export async function loadFacts(
  db: Kysely<Database>,
  hosts: readonly FactColumns[],
  now: number,
  onlyThese: boolean,
): Promise<Map<string, HostFacts>> {
  const since = now - FACTS_LOOKBACK_MS;
  const ids = hosts.map((h) => h.id);
  const facts = new Map<string, HostFacts>();
  for (const h of hosts) {
    facts.set(h.id, {
      firstSeenAt: h.first_seen_at,
      lastSeenAt: h.last_seen_at,
      health: h.health_state as HealthState | null,
      flags: parseJson<string[]>(h.flags, []),
      windows: [],
      offline: [],
      changes: [],
    });
  }
  if (ids.length === 0) return facts;
  let windows = db.selectFrom("maintenance_windows").selectAll().where("end_at", ">=", since);
  let offline = db.selectFrom("offline_periods").selectAll().where("end_at", ">=", since);
  let changes = db.selectFrom("state_changes").selectAll().where("at", ">=", since);
  if (onlyThese) {
    windows = windows.where("host_id", "in", ids);
    offline = offline.where("host_id", "in", ids);
    changes = changes.where("host_id", "in", ids);
  }
  for (const w of await windows.orderBy("start_at").execute())
    facts.get(w.host_id)?.windows.push(toStoredWindow(w));
  for (const o of await offline.execute())
    facts.get(o.host_id)?.offline.push({ start: o.start_at, end: o.end_at });
  for (const c of await changes.orderBy("at").execute()) {
    facts.get(c.host_id)?.changes.push({
      at: c.at,
      health: c.health_state as HealthState | null,
      listingReasons: parseJson<string[]>(c.listing_reasons, []),
    });
  }
  // No change within the look-back: the host's current state has held all along.
  for (const h of hosts) {
    const f = facts.get(h.id)!;
    if (f.changes.length === 0) {
      f.changes.push({
        at: since,
        health: f.health,
        listingReasons: parseJson<string[]>(h.listing_reasons, []),
      });
    }
  }
  return facts;
}

import { ConflictError, type MaintenanceWindow, NotFoundError } from "@podkit/core";
import type { Kysely } from "kysely";
import { newId } from "../auth/tokens.js";
import { RuleViolation } from "../errors.js";
import {
  checkMaintenanceRequest,
  isExcessiveMaintenance,
  maintenanceShare,
  toMaintenanceWindow,
  windowStatus,
} from "../rules/maintenance.js";
import { parseJson } from "../store/json.js";
import type { Database } from "../store/schema.js";
import type { HostChanges } from "./changes.js";
import { toStoredWindow } from "./facts.js";
import type { Rental } from "./host-view.js";
import type { Judge } from "./judge.js";
import { recordEvent, resolveHost } from "./records.js";

/** Maintenance windows and rentals: the admin's writes, each checked by the rules, then the host re-judged. */
export class Operations {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    /** Maintenance above this share of 30 days is reported as excessive. */
    private readonly maxMaintenanceShare: number,
    private readonly judge: Judge,
    private readonly changes: HostChanges,
  ) {}

  private async isRented(db: Kysely<Database>, hostId: string): Promise<boolean> {
    const row = await db
      .selectFrom("rentals")
      .select("id")
      .where("host_id", "=", hostId)
      .where("ended_at", "is", null)
      .executeTakeFirst();
    return row !== undefined;
  }

  async scheduleMaintenance(input: {
    host: string;
    start?: number;
    durationMs: number;
    immediate: boolean;
    reason?: string;
  }): Promise<MaintenanceWindow> {
    const now = this.clock();
    if (!input.immediate && input.start === undefined) {
      throw new RuleViolation(
        "MAINTENANCE_START_MISSING",
        "a scheduled window needs a start time (or immediate: true)",
      );
    }
    const changed = await this.db.transaction().execute(async (trx) => {
      const host = await resolveHost(trx, input.host);
      const existing = (
        await trx.selectFrom("maintenance_windows").selectAll().where("host_id", "=", host.id).execute()
      ).map(toStoredWindow);
      const decision = checkMaintenanceRequest({
        now,
        start: input.start ?? now,
        durationMs: input.durationMs,
        immediate: input.immediate,
        rented: await this.isRented(trx, host.id),
        existing,
      });
      if (!decision.ok) {
        throw new RuleViolation(decision.code, `${host.id}: ${decision.message}`, {
          conflict: decision.code === "MAINTENANCE_HOST_RENTED" || decision.code === "MAINTENANCE_OVERLAP",
        });
      }
      const row = {
        id: newId("mw"),
        host_id: host.id,
        start_at: decision.start,
        end_at: decision.end,
        immediate: input.immediate ? 1 : 0,
        cancelled: 0,
        reason: input.reason ?? null,
        created_at: now,
      };
      await trx.insertInto("maintenance_windows").values(row).execute();
      const window = toMaintenanceWindow(toStoredWindow(row), now);
      await recordEvent(
        trx,
        this.clock(),
        host.id,
        "maintenance-scheduled",
        `${input.immediate ? "immediate " : ""}maintenance ${window.start} – ${window.end}${input.reason ? `: ${input.reason}` : ""}`,
        window,
      );
      const share = maintenanceShare([...existing, toStoredWindow(row)], Math.max(now, decision.end));
      if (isExcessiveMaintenance(share, this.maxMaintenanceShare)) {
        await recordEvent(
          trx,
          this.clock(),
          host.id,
          "excessive-maintenance",
          `${host.id}: ${(share * 100).toFixed(1)}% of 30 days in maintenance (limit ${(this.maxMaintenanceShare * 100).toFixed(1)}%)`,
          { share },
        );
      }
      await this.judge.refresh(trx, [host]);
      return { window, hostId: host.id };
    });
    this.changes.notify([changed.hostId]);
    return changed.window;
  }

  async listMaintenance(filter: { host?: string; includePast?: boolean }): Promise<MaintenanceWindow[]> {
    const now = this.clock();
    let q = this.db.selectFrom("maintenance_windows").selectAll();
    if (filter.host) q = q.where("host_id", "=", (await resolveHost(this.db, filter.host)).id);
    const rows = await q.orderBy("start_at").execute();
    return rows
      .map((r) => toMaintenanceWindow(toStoredWindow(r), now))
      .filter((w) => filter.includePast || w.status === "scheduled" || w.status === "active");
  }

  async getMaintenance(id: string): Promise<MaintenanceWindow> {
    return toMaintenanceWindow(toStoredWindow(await windowRow(this.db, id)), this.clock());
  }

  /**
   * Move or resize a window that has not started, by the same rules as a new one (the notice is
   * counted to the new start; the window does not clash with itself).
   */
  async rescheduleMaintenance(
    id: string,
    patch: { start?: number; durationMs?: number; reason?: string },
  ): Promise<MaintenanceWindow> {
    const now = this.clock();
    const result = await this.db.transaction().execute(async (trx) => {
      const row = await windowRow(trx, id);
      const status = windowStatus(toStoredWindow(row), now);
      if (status !== "scheduled") {
        throw new ConflictError(
          `maintenance window ${id} is ${status}; only a window that has not started can be moved`,
        );
      }
      const others = (
        await trx.selectFrom("maintenance_windows").selectAll().where("host_id", "=", row.host_id).execute()
      )
        .filter((w) => w.id !== id)
        .map(toStoredWindow);
      const decision = checkMaintenanceRequest({
        now,
        start: patch.start ?? row.start_at,
        durationMs: patch.durationMs ?? row.end_at - row.start_at,
        immediate: false,
        rented: await this.isRented(trx, row.host_id),
        existing: others,
      });
      if (!decision.ok) {
        throw new RuleViolation(decision.code, `${row.host_id}: ${decision.message}`, {
          conflict: decision.code === "MAINTENANCE_OVERLAP",
        });
      }
      const reason = patch.reason ?? row.reason;
      await trx
        .updateTable("maintenance_windows")
        .set({ start_at: decision.start, end_at: decision.end, reason })
        .where("id", "=", id)
        .execute();
      const window = toMaintenanceWindow(
        toStoredWindow({ ...row, start_at: decision.start, end_at: decision.end, reason }),
        now,
      );
      await recordEvent(
        trx,
        this.clock(),
        row.host_id,
        "maintenance-moved",
        `maintenance ${id} moved to ${window.start} – ${window.end}`,
        window,
      );
      await this.judge.refresh(trx, [await resolveHost(trx, row.host_id)]);
      return { hostId: row.host_id, window };
    });
    this.changes.notify([result.hostId]);
    return result.window;
  }

  /** Cancel a window that has not ended; the machine is relisted if nothing else holds it. */
  async cancelMaintenance(id: string): Promise<MaintenanceWindow> {
    const now = this.clock();
    const result = await this.db.transaction().execute(async (trx) => {
      const row = await windowRow(trx, id);
      const status = windowStatus(toStoredWindow(row), now);
      if (status === "cancelled" || status === "done") {
        throw new ConflictError(`maintenance window ${id} is already ${status}`);
      }
      // An active window ends now rather than vanishing: the time already spent stays maintenance.
      const patch = status === "active" ? { end_at: now } : { cancelled: 1 };
      await trx.updateTable("maintenance_windows").set(patch).where("id", "=", id).execute();
      await recordEvent(
        trx,
        this.clock(),
        row.host_id,
        "maintenance-cancelled",
        `maintenance ${id} ${status === "active" ? "ended early" : "cancelled"}`,
      );
      await this.judge.refresh(trx, [await resolveHost(trx, row.host_id)]);
      const updated = await trx
        .selectFrom("maintenance_windows")
        .selectAll()
        .where("id", "=", id)
        .executeTakeFirstOrThrow();
      return { hostId: row.host_id, window: toMaintenanceWindow(toStoredWindow(updated), now) };
    });
    this.changes.notify([result.hostId]);
    return result.window;
  }

  async rent(hostRef: string, renter: string): Promise<Rental> {
    const now = this.clock();
    const result = await this.db.transaction().execute(async (trx) => {
      const host = await resolveHost(trx, hostRef);
      if (await this.isRented(trx, host.id)) throw new ConflictError(`${host.id} is already rented`);
      if (host.listing_state !== "listed") {
        const reasons = parseJson<string[]>(host.listing_reasons, []).join(", ");
        throw new ConflictError(
          `${host.id} is not in the pool (${host.listing_state}: ${reasons || "no reason"})`,
        );
      }
      const row = { id: newId("rt"), host_id: host.id, renter, started_at: now, ended_at: null };
      await trx.insertInto("rentals").values(row).execute();
      await recordEvent(trx, this.clock(), host.id, "rented", `${host.id} rented by ${renter}`, {
        rentalId: row.id,
        renter,
      });
      return toRental(row);
    });
    this.changes.notify([result.hostId]);
    return result;
  }

  async endRental(rentalRef: { rentalId?: string; host?: string }): Promise<Rental> {
    const now = this.clock();
    const result = await this.db.transaction().execute(async (trx) => {
      let q = trx.selectFrom("rentals").selectAll().where("ended_at", "is", null);
      if (rentalRef.rentalId) q = q.where("id", "=", rentalRef.rentalId);
      else q = q.where("host_id", "=", (await resolveHost(trx, rentalRef.host ?? "")).id);
      const row = await q.executeTakeFirst();
      if (!row) throw new NotFoundError(`no active rental ${rentalRef.rentalId ?? `on ${rentalRef.host}`}`);
      await trx.updateTable("rentals").set({ ended_at: now }).where("id", "=", row.id).execute();
      await recordEvent(trx, this.clock(), row.host_id, "freed", `${row.host_id} freed by ${row.renter}`, {
        rentalId: row.id,
      });
      return toRental({ ...row, ended_at: now });
    });
    this.changes.notify([result.hostId]);
    return result;
  }

  async listRentals(filter: { active?: boolean; host?: string }): Promise<Rental[]> {
    let q = this.db.selectFrom("rentals").selectAll();
    if (filter.active) q = q.where("ended_at", "is", null);
    if (filter.host) q = q.where("host_id", "=", (await resolveHost(this.db, filter.host)).id);
    return (await q.orderBy("started_at", "desc").limit(1000).execute()).map(toRental);
  }
}

function toRental(row: {
  id: string;
  host_id: string;
  renter: string;
  started_at: number;
  ended_at: number | null;
}): Rental {
  return {
    id: row.id,
    hostId: row.host_id,
    renter: row.renter,
    startedAt: new Date(row.started_at).toISOString(),
    endedAt: row.ended_at === null ? null : new Date(row.ended_at).toISOString(),
  };
}

async function windowRow(db: Kysely<Database>, id: string) {
  const row = await db.selectFrom("maintenance_windows").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) throw new NotFoundError(`no maintenance window "${id}"; see \`podkit maintenance list\``, { id });
  return row;
}

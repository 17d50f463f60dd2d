import { AuthError, type MachineInfo } from "@podkit/core";
import type { Kysely } from "kysely";
import { hashToken, newToken } from "../auth/tokens.js";
import { parseJson } from "../store/json.js";
import type { Database, HostsTable } from "../store/schema.js";
import type { FleetEvent } from "./host-view.js";
import type { Judge } from "./judge.js";
import { recordEvent, resolveHost } from "./records.js";

const DAY_MS = 86_400_000;

const ENROLL_ATTEMPTS = 20;

/** A primary-key clash on hosts.id, as PostgreSQL (23505 on hosts_pkey) or SQLite reports it. */
function isHostIdTaken(err: unknown): boolean {
  const e = err as { code?: unknown; constraint?: unknown; message?: unknown };
  if (e?.code === "23505") return e.constraint === "hosts_pkey";
  return (
    typeof e?.code === "string" &&
    e.code.startsWith("SQLITE_CONSTRAINT") &&
    String(e.message).includes("hosts.id")
  );
}

/**
 * Hosts' membership and records: enrolment, host tokens, the agent link, chart samples, the event
 * log and pruning. Judging hosts is the `Judge`'s; showing them is `FleetViews`'.
 */
export class Fleet {
  private readonly tokenCache = new Map<string, string>();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    private readonly judge: Judge,
  ) {}

  /** Record how the agent's WebSocket stands (best effort: a database outage only loses the mark). */
  async markLink(hostId: string, state: "connected" | "closed" | "lost"): Promise<void> {
    await this.db
      .updateTable("hosts")
      .set({ link_state: state, link_since: this.clock() })
      .where("id", "=", hostId)
      .execute();
  }

  async createEnrollmentToken(ttlMs: number): Promise<{ token: string; expiresAt: string }> {
    const now = this.clock();
    const token = newToken("pke");
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("enrollment_tokens")
        .values({
          token_hash: hashToken(token),
          created_at: now,
          expires_at: now + ttlMs,
          used_at: null,
          host_id: null,
        })
        .execute();
      await recordEvent(
        trx,
        this.clock(),
        null,
        "enrollment-token",
        `enrolment token created, valid until ${new Date(now + ttlMs).toISOString()}`,
      );
    });
    return { token, expiresAt: new Date(now + ttlMs).toISOString() };
  }

  /** Spend a one-time enrolment token on a new host; the host token is returned only here. */
  async enroll(
    enrollmentToken: string,
    machine: MachineInfo,
  ): Promise<{ hostId: string; hostToken: string }> {
    // Two machines with one hostname enrolling at once can pick the same free id (PostgreSQL reads
    // committed rows only); the loser's insert fails on the primary key and it simply tries again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.enrollOnce(enrollmentToken, machine);
      } catch (err) {
        if (attempt >= ENROLL_ATTEMPTS || !isHostIdTaken(err)) throw err;
      }
    }
  }

  private async enrollOnce(
    enrollmentToken: string,
    machine: MachineInfo,
  ): Promise<{ hostId: string; hostToken: string }> {
    const now = this.clock();
    const hash = hashToken(enrollmentToken);
    return this.db.transaction().execute(async (trx) => {
      const hostId = await this.uniqueHostId(trx, machine.hostname);
      const spent = await trx
        .updateTable("enrollment_tokens")
        .set({ used_at: now, host_id: hostId })
        .where("token_hash", "=", hash)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      if (Number(spent.numUpdatedRows) !== 1) {
        throw new AuthError(
          "enrolment token unknown, expired or already used; create a new one with `podkit hosts enroll`",
        );
      }
      const hostToken = newToken("pkh");
      await trx
        .insertInto("hosts")
        .values({
          id: hostId,
          hostname: machine.hostname,
          token_hash: hashToken(hostToken),
          enrolled_at: now,
          machine: JSON.stringify(machine),
          first_seen_at: null,
          last_seen_at: null,
          health_state: null,
          health: null,
          gpu_health: "[]",
          flags: JSON.stringify(machine.gpusKnown === false ? ["GPUS_UNKNOWN"] : []),
          listing_state: "unlisted",
          listing_reasons: JSON.stringify(["OFFLINE"]),
          listing_since: now,
          reliability: 1,
          reliability_at: null,
          telemetry: null,
          telemetry_at: null,
          sample_at: null,
          link_state: null,
          link_since: null,
        })
        .execute();
      await recordEvent(
        trx,
        this.clock(),
        hostId,
        "enrolled",
        `host ${hostId} enrolled (${machine.gpusKnown === false ? "GPUs unknown" : `${machine.gpus.length} GPUs`})`,
      );
      await this.judge.refresh(trx, [await resolveHost(trx, hostId)]);
      return { hostId, hostToken };
    });
  }

  private async uniqueHostId(db: Kysely<Database>, hostname: string): Promise<string> {
    const base =
      hostname
        .toLowerCase()
        .replace(/[^a-z0-9-]+/g, "-")
        .replace(/^-+|-+$/g, "")
        .slice(0, 48) || "host";
    const taken = new Set(
      (await db.selectFrom("hosts").select("id").where("id", "like", `${base}%`).execute()).map((r) => r.id),
    );
    if (!taken.has(base)) return base;
    for (let n = 2; ; n++) if (!taken.has(`${base}-${n}`)) return `${base}-${n}`;
  }

  /** The host a `pkh_` token speaks for, or null. */
  async authenticateHost(token: string): Promise<string | null> {
    if (!token.startsWith("pkh_")) return null;
    const hash = hashToken(token);
    const cached = this.tokenCache.get(hash);
    if (cached) return cached;
    const row = await this.db
      .selectFrom("hosts")
      .select("id")
      .where("token_hash", "=", hash)
      .executeTakeFirst();
    if (!row) return null;
    this.tokenCache.set(hash, row.id);
    return row.id;
  }

  /**
   * Drop what no rule or page reads any more: message ids of events and registers after 30 days
   * (an agent's outbox older than that is replayed as new), other message ids after an hour, chart
   * samples after 7 days, offline periods and state changes after 90 days (reliability and its
   * history read 60).
   */
  async prune(): Promise<void> {
    const now = this.clock();
    await this.db
      .deleteFrom("messages")
      .where("received_at", "<", now - 30 * DAY_MS)
      .execute();
    // Telemetry, health and heartbeats are idempotent by content (newest wins, samples keyed by
    // time), so a late duplicate of them is harmless: their ids need not outlive an outage.
    await this.db
      .deleteFrom("messages")
      .where("received_at", "<", now - 3_600_000)
      .where("type", "not in", ["event", "register"])
      .execute();
    await this.db
      .deleteFrom("gpu_samples")
      .where("at", "<", now - 7 * DAY_MS)
      .execute();
    await this.db
      .deleteFrom("offline_periods")
      .where("end_at", "<", now - 90 * DAY_MS)
      .execute();
    await this.db
      .deleteFrom("state_changes")
      .where("at", "<", now - 90 * DAY_MS)
      .execute();
  }

  /** A host by id or hostname. */
  async host(idOrHostname: string): Promise<HostsTable> {
    return resolveHost(this.db, idOrHostname);
  }

  /** Stored chart samples of one host since `since`, oldest first. */
  async gpuSamples(hostId: string, since: number, limit = 20_000) {
    return this.db
      .selectFrom("gpu_samples")
      .selectAll()
      .where("host_id", "=", hostId)
      .where("at", ">=", since)
      .orderBy("at")
      .limit(limit)
      .execute();
  }

  async listEvents(filter: {
    hostId?: string;
    kind?: string;
    limit?: number;
    before?: number;
  }): Promise<FleetEvent[]> {
    let q = this.db.selectFrom("events").selectAll();
    if (filter.hostId) q = q.where("host_id", "=", filter.hostId);
    if (filter.kind) q = q.where("kind", "=", filter.kind);
    if (filter.before !== undefined) q = q.where("at", "<", filter.before);
    const rows = await q
      .orderBy("at", "desc")
      .orderBy("id")
      .limit(Math.min(filter.limit ?? 100, 1000))
      .execute();
    return rows.map((r) => ({
      id: r.id,
      hostId: r.host_id,
      at: new Date(r.at).toISOString(),
      kind: r.kind,
      message: r.message,
      data: parseJson<unknown>(r.data, null),
    }));
  }
}

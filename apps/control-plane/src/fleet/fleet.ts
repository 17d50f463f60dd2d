import { AuthError, type MachineInfo, NotFoundError } from "@podkit/core";
import type { Kysely } from "kysely";
import { hashToken, newId, newToken } from "../auth/tokens.js";
import {
  type EvaluationSettings,
  evaluateHost,
  type HostEvaluation,
  type HostFacts,
  hostReliabilityHistory,
} from "../rules/evaluate.js";
import type { Database, HostsTable } from "../store/schema.js";
import { loadFacts } from "./facts.js";
import { type FleetEvent, type HostView, parseJson } from "./host-view.js";
import { FleetViews } from "./views.js";

export type FleetSettings = EvaluationSettings;

const DAY_MS = 86_400_000;
const SWEEP_SLICE = 250;

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

/** The columns the rules read; the sweep loads only these (not machine or telemetry JSON). */
const JUDGE_COLUMNS = [
  "id",
  "first_seen_at",
  "last_seen_at",
  "health_state",
  "flags",
  "listing_state",
  "listing_reasons",
  "reliability",
] as const;
export type JudgedHost = Pick<HostsTable, (typeof JUDGE_COLUMNS)[number]>;

interface HostChange {
  row: JudgedHost;
  ev: HostEvaluation;
  reasons: string;
  listingChanged: boolean;
  recordState: boolean;
}

/** Called after a change an agent should hear about (listing, rental, maintenance). */
export type HostChangedListener = (hostIds: string[]) => void;

/**
 * The fleet as the rules see it: hosts, their listing and reliability. Every write that can change
 * a host's listing ends with `refresh`, which re-judges the host and records what changed.
 */
export class Fleet {
  private readonly tokenCache = new Map<string, string>();
  private listeners: HostChangedListener[] = [];
  /** Hosts as the API, dashboard and metrics show them. */
  readonly views = new FleetViews(this);

  constructor(
    readonly db: Kysely<Database>,
    readonly settings: FleetSettings,
    readonly clock: () => number,
  ) {}

  /** Record how the agent's WebSocket stands (best effort: a database outage only loses the mark). */
  async markLink(hostId: string, state: "connected" | "closed" | "lost"): Promise<void> {
    await this.db
      .updateTable("hosts")
      .set({ link_state: state, link_since: this.clock() })
      .where("id", "=", hostId)
      .execute();
  }

  onHostChanged(listener: HostChangedListener): void {
    this.listeners.push(listener);
  }

  notify(hostIds: string[]): void {
    if (hostIds.length === 0) return;
    for (const l of this.listeners) l(hostIds);
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
      await this.recordEvent(
        trx,
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
      await this.recordEvent(
        trx,
        hostId,
        "enrolled",
        `host ${hostId} enrolled (${machine.gpusKnown === false ? "GPUs unknown" : `${machine.gpus.length} GPUs`})`,
      );
      await this.refresh(trx, [await this.resolveHost(trx, hostId)]);
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

  /** A host by id or hostname. */
  async resolveHost(db: Kysely<Database>, idOrHostname: string): Promise<HostsTable> {
    const row =
      (await db.selectFrom("hosts").selectAll().where("id", "=", idOrHostname).executeTakeFirst()) ??
      (await db.selectFrom("hosts").selectAll().where("hostname", "=", idOrHostname).executeTakeFirst());
    if (!row)
      throw new NotFoundError(`no host "${idOrHostname}"; see \`podkit hosts list\``, { host: idOrHostname });
    return row;
  }

  async recordEvent(
    db: Kysely<Database>,
    hostId: string | null,
    kind: string,
    message: string,
    data?: unknown,
    at = this.clock(),
  ): Promise<void> {
    await db
      .insertInto("events")
      .values({
        id: newId("ev"),
        host_id: hostId,
        at,
        kind,
        message,
        data: data === undefined ? null : JSON.stringify(data),
      })
      .execute();
  }

  /**
   * Re-judge hosts by the rules and store what changed (listing, reliability, a state-change row
   * when health or listing moved). Returns the ids whose listing changed.
   */
  async refresh(
    db: Kysely<Database>,
    hosts: readonly JudgedHost[],
    options: { healthChanged?: ReadonlySet<string> } = {},
  ): Promise<string[]> {
    const now = this.clock();
    const facts = await loadFacts(db, hosts, now, true);
    const changes = this.judge(hosts, facts, now, options.healthChanged);
    await this.applyChanges(db, changes, now);
    return changes.filter((c) => c.listingChanged).map((c) => c.row.id);
  }

  /**
   * The periodic pass over every host for time-based rules (maintenance coming, offline,
   * reliability). Reads outside any transaction, so agents' messages keep flowing; only hosts
   * that changed are written, in one short transaction.
   */
  async sweep(): Promise<string[]> {
    const now = this.clock();
    const rows = await this.db.selectFrom("hosts").select(JUDGE_COLUMNS).orderBy("id").execute();
    const facts = await loadFacts(this.db, rows, now, false);
    // Judge in slices, yielding between them, so a large fleet's sweep never holds up agents' acks.
    const changes: HostChange[] = [];
    for (let k = 0; k < rows.length; k += SWEEP_SLICE) {
      changes.push(...this.judge(rows.slice(k, k + SWEEP_SLICE), facts, now));
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (changes.length > 0)
      await this.db.transaction().execute((trx) => this.applyChanges(trx, changes, now));
    return changes.filter((c) => c.listingChanged).map((c) => c.row.id);
  }

  private judge(
    rows: readonly JudgedHost[],
    facts: Map<string, HostFacts>,
    now: number,
    healthChanged?: ReadonlySet<string>,
  ): HostChange[] {
    const changes: HostChange[] = [];
    for (const row of rows) {
      const ev = evaluateHost(facts.get(row.id)!, now, this.settings);
      const reasons = JSON.stringify(ev.listing.reasons);
      const listingChanged = row.listing_state !== ev.listing.state || row.listing_reasons !== reasons;
      const reliabilityChanged = Math.abs(row.reliability - ev.reliability.reliability) > 1e-12;
      const recordState = listingChanged || (healthChanged?.has(row.id) ?? false);
      if (listingChanged || reliabilityChanged || recordState) {
        changes.push({ row, ev, reasons, listingChanged, recordState });
      }
    }
    return changes;
  }

  private async applyChanges(
    db: Kysely<Database>,
    changes: readonly HostChange[],
    now: number,
  ): Promise<void> {
    for (const { row, ev, reasons, listingChanged, recordState } of changes) {
      if (recordState) {
        await db
          .insertInto("state_changes")
          .values({
            id: newId("sc"),
            host_id: row.id,
            at: now,
            health_state: row.health_state,
            listing_state: ev.listing.state,
            listing_reasons: reasons,
          })
          .execute();
      }
      if (listingChanged) {
        await this.recordEvent(db, row.id, "listing", listingMessage(row, ev), {
          from: row.listing_state,
          to: ev.listing.state,
          reasons: ev.listing.reasons,
        });
      }
      await db
        .updateTable("hosts")
        .set({
          reliability: ev.reliability.reliability,
          reliability_at: now,
          ...(listingChanged
            ? { listing_state: ev.listing.state, listing_reasons: reasons, listing_since: now }
            : {}),
        })
        .where("id", "=", row.id)
        .execute();
    }
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

  async evaluate(idOrHostname: string): Promise<{
    row: HostsTable;
    evaluation: HostEvaluation;
    history: ReturnType<typeof hostReliabilityHistory>;
  }> {
    const now = this.clock();
    const row = await this.resolveHost(this.db, idOrHostname);
    const facts = (await loadFacts(this.db, [row], now, true)).get(row.id)!;
    return {
      row,
      evaluation: evaluateHost(facts, now, this.settings),
      history: hostReliabilityHistory(facts, now, this.settings),
    };
  }

  async listHosts(filter: (row: HostsTable) => boolean = () => true): Promise<HostView[]> {
    return this.views.list(filter);
  }

  async getHost(idOrHostname: string): Promise<HostView> {
    return this.views.one(idOrHostname);
  }

  /** Listed hosts, plus removed ones this renter has had (their data may still be there). */
  async listPool(renter: string | null): Promise<HostView[]> {
    const had = renter
      ? new Set(
          (await this.db.selectFrom("rentals").select("host_id").where("renter", "=", renter).execute()).map(
            (r) => r.host_id,
          ),
        )
      : new Set<string>();
    return this.listHosts(
      (row) => row.listing_state === "listed" || (row.listing_state === "removed" && had.has(row.id)),
    );
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

function listingMessage(row: JudgedHost, ev: HostEvaluation): string {
  const why = ev.listing.reasons.length ? ` (${ev.listing.reasons.join(", ")})` : "";
  return `${row.id}: ${row.listing_state} → ${ev.listing.state}${why}`;
}

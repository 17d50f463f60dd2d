import type { AgentEvent, AgentMessage, HealthVerdict, HostSample } from "@podkit/core";
import type { Insertable, Kysely } from "kysely";
import { newId } from "../auth/tokens.js";
import { RetryLaterError } from "../errors.js";
import type { HostChanges } from "../fleet/changes.js";
import type { Judge } from "../fleet/judge.js";
import { recordEvent } from "../fleet/records.js";
import { applyEventToFlags } from "../rules/listing.js";
import { type Availability, DatabaseUnavailableError } from "../store/availability.js";
import { compactTelemetry, parseJson } from "../store/json.js";
import type { Database, GpuSamplesTable, HostsTable } from "../store/schema.js";
import { insertSamples, isHotColumn, updateHotColumns } from "./batch-writes.js";

/** The columns a batch reads per host: not the machine description or the latest telemetry. */
const INGEST_COLUMNS = [
  "id",
  "hostname",
  "first_seen_at",
  "last_seen_at",
  "health_state",
  "health",
  "flags",
  "listing_state",
  "listing_reasons",
  "reliability",
  "telemetry_at",
  "sample_at",
] as const;
type IngestRow = Pick<HostsTable, (typeof INGEST_COLUMNS)[number]>;

type GpuSampleRow = Insertable<GpuSamplesTable>;

export interface IngestSettings {
  /** At most one stored GPU sample per host per this many ms feeds the charts; the latest is always kept. */
  sampleEveryMs: number;
  /** Messages written in one transaction at most. */
  maxBatch: number;
  /** Transactions in flight at once (hosts are split between them). */
  lanes: number;
  /** Messages waiting per lane before new ones are answered "retry later" (overloaded). */
  maxQueued?: number;
  /** A gap between two messages longer than this is recorded as an offline period. */
  offlineAfterMs: number;
}

interface Pending {
  hostId: string;
  message: AgentMessage;
  resolve: (duplicate: boolean) => void;
  reject: (err: Error) => void;
}

/** What one batch did to a host, written once at the end of the batch. */
interface HostWork {
  row: IngestRow;
  /** Only the columns this batch changed are written back. */
  patch: Partial<Omit<HostsTable, "id">>;
  refresh: boolean;
  healthChanged: boolean;
}

/**
 * Stores agent messages with group commit: messages arriving while a transaction runs are
 * written together in the next one, so one fsync covers many agents. `submit` resolves only once
 * the message's transaction has committed, which is when the agent gets its ack.
 */
export class Ingest {
  /**
   * One group-commit lane per shard of hosts: a host always lands in the same lane, so its
   * messages stay in order, while lanes commit in parallel where the database allows it
   * (PostgreSQL; SQLite has one writer and one lane).
   */
  private readonly lanes: Array<{ queue: Pending[]; running: Promise<void> | null }>;
  private closing = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    private readonly settings: IngestSettings,
    private readonly judge: Judge,
    private readonly changes: HostChanges,
    private readonly availability: Availability,
  ) {
    this.lanes = Array.from({ length: Math.max(1, settings.lanes) }, () => ({ queue: [], running: null }));
  }

  /** Resolves `true` for a duplicate (already stored), `false` for a new message. */
  submit(hostId: string, message: AgentMessage): Promise<boolean> {
    const lane = this.lanes[laneOf(hostId, this.lanes.length)]!;
    try {
      if (this.closing)
        throw new RetryLaterError(
          "the control plane is shutting down; send it again to another replica or later",
          {
            nackCode: "SHUTTING_DOWN",
          },
        );
      // While the database is away every message is answered at once, instead of each waiting for a timeout.
      this.availability.check();
      if (lane.queue.length >= (this.settings.maxQueued ?? 20_000))
        throw new RetryLaterError("the control plane is overloaded; send it again later", {
          nackCode: "OVERLOADED",
          retryAfterMs: 5000,
        });
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      lane.queue.push({ hostId, message, resolve, reject });
      if (!lane.running) lane.running = this.drain(lane);
    });
  }

  /** Refuse new messages (retry later), then wait for those already taken. */
  async close(): Promise<void> {
    this.closing = true;
    await this.idle();
  }

  /** Wait until everything submitted so far is stored. */
  async idle(): Promise<void> {
    for (const lane of this.lanes) while (lane.running) await lane.running;
  }

  private async drain(lane: { queue: Pending[]; running: Promise<void> | null }): Promise<void> {
    // Let the current burst of socket reads queue up before opening a transaction.
    await new Promise((r) => setImmediate(r));
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, this.settings.maxBatch);
        await this.writeBatch(batch);
      }
    } finally {
      lane.running = null;
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let outcome: { duplicates: boolean[]; changed: string[] };
    try {
      this.availability.check();
      outcome = await this.db.transaction().execute((trx) => this.store(trx, batch));
    } catch (batchErr) {
      const fault = this.availability.observe(batchErr);
      // The database is away (or this transaction lost a race): nothing in the batch is at fault,
      // and every message is answered "retry later" at once; the agents keep them.
      if (fault !== null) {
        const err =
          batchErr instanceof RetryLaterError
            ? batchErr
            : new DatabaseUnavailableError(
                `the control plane could not store this message (${(batchErr as Error).message}); send it again later`,
                { cause: batchErr, nackCode: fault === "retry" ? "STORE_FAILED" : "STORAGE_UNAVAILABLE" },
              );
        for (const p of batch) p.reject(err);
        return;
      }
      // One bad message must not sink its neighbours: store each on its own to find the culprit.
      if (batch.length === 1) {
        batch[0]!.reject(batchErr as Error);
        return;
      }
      for (const p of batch) await this.writeBatch([p]);
      return;
    }
    this.availability.succeeded();
    for (const [k, p] of batch.entries()) p.resolve(outcome.duplicates[k]!);
    this.changes.notify(outcome.changed);
  }

  private async store(
    trx: Kysely<Database>,
    batch: Pending[],
  ): Promise<{ duplicates: boolean[]; changed: string[] }> {
    const now = this.clock();
    const hostIds = [...new Set(batch.map((p) => p.hostId))];
    const rows = await trx.selectFrom("hosts").select(INGEST_COLUMNS).where("id", "in", hostIds).execute();
    const work = new Map<string, HostWork>(
      rows.map((row) => [row.id, { row: { ...row }, patch: {}, refresh: false, healthChanged: false }]),
    );
    const key = (hostId: string, id: string) => `${hostId}\u0000${id}`;
    // A second copy inside the same batch is a duplicate: only the first one is applied.
    const firstCopies = new Map<string, Pending>();
    for (const p of batch)
      if (!firstCopies.has(key(p.hostId, p.message.id))) firstCopies.set(key(p.hostId, p.message.id), p);
    const inserted = await this.rememberIds(trx, [...firstCopies.values()], now);
    const samples: GpuSampleRow[] = [];
    const duplicates: boolean[] = [];
    for (const p of batch) {
      const w = work.get(p.hostId);
      if (!w) throw new Error(`host ${p.hostId} no longer exists`);
      const k = key(p.hostId, p.message.id);
      const isNew = firstCopies.get(k) === p && inserted.has(k);
      duplicates.push(!isNew);
      if (!isNew) continue;
      await this.markSeen(trx, w, now);
      await this.apply(trx, w, p.message, now, samples);
    }
    await insertSamples(trx, samples);
    const toRefresh: IngestRow[] = [];
    const healthChanged = new Set<string>();
    const hot: HostWork[] = [];
    // Rows are written in id order, as the sweep does, so concurrent transactions cannot deadlock.
    for (const w of [...work.values()].sort((a, b) => (a.row.id < b.row.id ? -1 : 1))) {
      const columns = Object.keys(w.patch);
      if (columns.length > 0 && columns.every(isHotColumn)) hot.push(w);
      else if (columns.length > 0) {
        await trx.updateTable("hosts").set(w.patch).where("id", "=", w.row.id).execute();
      }
      if (w.refresh) toRefresh.push(w.row);
      if (w.healthChanged) healthChanged.add(w.row.id);
    }
    await updateHotColumns(trx, hot);
    const changed = toRefresh.length ? await this.judge.refresh(trx, toRefresh, { healthChanged }) : [];
    return { duplicates, changed };
  }

  /** Store the batch's message ids in one statement per 500; returns the keys that were new. */
  private async rememberIds(trx: Kysely<Database>, messages: Pending[], now: number): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (let k = 0; k < messages.length; k += 500) {
      const rows = messages
        .slice(k, k + 500)
        .map((p) => ({ host_id: p.hostId, id: p.message.id, type: p.message.type, received_at: now }));
      // RETURNING gives back only the rows that were not stored yet: the rest are duplicates.
      const fresh = await trx
        .insertInto("messages")
        .values(rows)
        .onConflict((oc) => oc.columns(["host_id", "id"]).doNothing())
        .returning(["host_id", "id"])
        .execute();
      for (const r of fresh) inserted.add(`${r.host_id}\u0000${r.id}`);
    }
    return inserted;
  }

  /** Any message is a sign of life; a silence longer than the offline limit becomes an offline period. */
  private async markSeen(trx: Kysely<Database>, w: HostWork, now: number): Promise<void> {
    const last = w.row.last_seen_at;
    if (last !== null && now - last > this.settings.offlineAfterMs) {
      await trx
        .insertInto("offline_periods")
        .values({ host_id: w.row.id, start_at: last, end_at: now })
        .onConflict((oc) => oc.columns(["host_id", "start_at"]).doNothing())
        .execute();
      w.refresh = true;
    }
    if (w.row.first_seen_at === null) {
      change(w, { first_seen_at: now });
      w.refresh = true;
    }
    if (last === null) w.refresh = true;
    change(w, { last_seen_at: now });
  }

  private async apply(
    trx: Kysely<Database>,
    w: HostWork,
    message: AgentMessage,
    now: number,
    samples: GpuSampleRow[],
  ): Promise<void> {
    switch (message.type) {
      case "register":
        // Every register replaces the inventory: the agent sends one whenever its GPUs change.
        change(w, { machine: JSON.stringify(message.payload), hostname: message.payload.hostname });
        this.setFlags(
          w,
          applyEventToFlags(this.flags(w), {
            kind: "inventory",
            gpusKnown: message.payload.gpusKnown !== false,
          }),
        );
        w.refresh = true;
        return;
      case "telemetry":
        this.storeTelemetry(
          w,
          Date.parse(message.sentAt),
          message.payload.host,
          message.payload.gpus,
          samples,
        );
        return;
      case "health": {
        const stored = parseJson<HealthVerdict | null>(w.row.health, null);
        // The outbox may deliver an old verdict after a newer one: keep the newest.
        if (stored && Date.parse(stored.at) > Date.parse(message.payload.machine.at)) return;
        const state = message.payload.machine.state;
        if (w.row.health_state !== state) {
          w.healthChanged = true;
          w.refresh = true;
          await recordEvent(
            trx,
            now,
            w.row.id,
            "health",
            `${w.row.id}: health ${w.row.health_state ?? "unknown"} → ${state}`,
            message.payload.machine,
          );
        }
        change(w, {
          health_state: state,
          health: JSON.stringify(message.payload.machine),
          gpu_health: JSON.stringify(message.payload.gpus),
        });
        if (state === "healthy") this.setFlags(w, applyEventToFlags(this.flags(w), { kind: "health-clear" }));
        return;
      }
      case "event":
        await this.storeEvent(trx, w, message.payload, Date.parse(message.sentAt) || now);
        return;
      case "heartbeat":
        return;
    }
  }

  /** Keep the latest report; every `sampleEveryMs` also queue a chart sample per GPU. */
  private storeTelemetry(
    w: HostWork,
    /** When the agent took the sample (the message's sentAt; the host part may be older). */
    at: number,
    host: HostSample,
    gpus: Array<{
      index: number;
      temperatureCelsius: number | null;
      utilizationRatio: number | null;
      memoryUsedBytes: number | null;
      powerWatts: number | null;
    }>,
    samples: GpuSampleRow[],
  ): void {
    if (w.row.telemetry_at === null || at >= w.row.telemetry_at) {
      change(w, { telemetry: JSON.stringify(compactTelemetry(host, gpus)), telemetry_at: at });
    }
    if (w.row.sample_at !== null && Math.abs(at - w.row.sample_at) < this.settings.sampleEveryMs) return;
    change(w, { sample_at: at });
    for (const g of gpus) {
      samples.push({
        host_id: w.row.id,
        at,
        gpu_index: g.index,
        temperature_celsius: g.temperatureCelsius,
        utilization_ratio: g.utilizationRatio,
        memory_used_bytes: g.memoryUsedBytes,
        power_watts: g.powerWatts,
      });
    }
  }

  private flags(w: HostWork): string[] {
    return parseJson<string[]>(w.row.flags, []);
  }

  private setFlags(w: HostWork, flags: string[]): void {
    const text = JSON.stringify(flags);
    if (text === w.row.flags) return;
    change(w, { flags: text });
    w.refresh = true;
  }

  private async storeEvent(trx: Kysely<Database>, w: HostWork, event: AgentEvent, at: number): Promise<void> {
    await trx
      .insertInto("events")
      .values({
        id: newId("ev"),
        host_id: w.row.id,
        at,
        kind: event.kind,
        message: describeEvent(w.row.id, event),
        data: JSON.stringify(event),
      })
      .execute();
    if (event.kind === "burn-test" || event.kind === "gpu-lost" || event.kind === "listing-request") {
      this.setFlags(w, applyEventToFlags(this.flags(w), event));
    }
  }
}

export function describeEvent(hostId: string, event: AgentEvent): string {
  switch (event.kind) {
    case "xid": {
      const x = event.xid;
      const where = x.gpuIndex !== null ? `GPU ${x.gpuIndex}` : (x.pciBusId ?? "unknown GPU");
      return `${hostId}: ${x.kind.toUpperCase()} ${x.xid} on ${where}${x.description ? ` (${x.description})` : ""} → ${x.action}`;
    }
    case "gpu-lost":
      return `${hostId}: GPU lost${event.gpuIndex !== null ? ` (GPU ${event.gpuIndex})` : ""}: ${event.evidence}`;
    case "burn-test":
      return `${hostId}: burn test ${event.phase}${event.summary ? `: ${event.summary}` : ""}`;
    case "listing-request":
      return `${hostId}: asks to be ${event.listed ? "listed" : "unlisted"}: ${event.reason}`;
    case "notice":
      return `${hostId}: ${event.message}`;
  }
}

function change(w: HostWork, fields: Partial<Omit<HostsTable, "id">>): void {
  Object.assign(w.row, fields);
  Object.assign(w.patch, fields);
}

function laneOf(hostId: string, lanes: number): number {
  if (lanes === 1) return 0;
  let h = 0;
  for (let k = 0; k < hostId.length; k++) h = (h * 31 + hostId.charCodeAt(k)) >>> 0;
  return h % lanes;
}

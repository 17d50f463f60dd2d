import type { Kysely } from "kysely";
import { newId } from "../auth/tokens.js";
import {
  type EvaluationSettings,
  evaluateHost,
  type HostEvaluation,
  type HostFacts,
  hostReliabilityHistory,
} from "../rules/evaluate.js";
import type { Database, HostsTable } from "../store/schema.js";
import { loadFacts } from "./facts.js";
import { recordEvent, resolveHost } from "./records.js";

export type FleetSettings = EvaluationSettings;

const SWEEP_SLICE = 250;

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

/**
 * Applies the rules to stored hosts: every write that can change a host's listing ends with
 * `refresh`, which re-judges the host and records what changed; `sweep` does the same for every
 * host on a timer, for the rules that depend on time alone.
 */
export class Judge {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    private readonly settings: FleetSettings,
  ) {}

  /**
   * Re-judge hosts by the rules and store what changed (listing, reliability, a state-change row
   * when health or listing moved) through `db`, the caller's transaction. Returns the ids whose
   * listing changed.
   */
  async refresh(
    db: Kysely<Database>,
    hosts: readonly JudgedHost[],
    options: { healthChanged?: ReadonlySet<string> } = {},
  ): Promise<string[]> {
    const now = this.clock();
    const facts = await loadFacts(db, hosts, now, true);
    const changes = this.judge(hosts, facts, now, options.healthChanged);
    await applyChanges(db, changes, now, this.clock);
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
      await this.db.transaction().execute((trx) => applyChanges(trx, changes, now, this.clock));
    return changes.filter((c) => c.listingChanged).map((c) => c.row.id);
  }

  /** One host's judgement as of now, with its reliability history (the host page and API). */
  async evaluate(idOrHostname: string): Promise<{
    row: HostsTable;
    evaluation: HostEvaluation;
    history: ReturnType<typeof hostReliabilityHistory>;
  }> {
    const now = this.clock();
    const row = await resolveHost(this.db, idOrHostname);
    const facts = (await loadFacts(this.db, [row], now, true)).get(row.id)!;
    return {
      row,
      evaluation: evaluateHost(facts, now, this.settings),
      history: hostReliabilityHistory(facts, now, this.settings),
    };
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
}

async function applyChanges(
  db: Kysely<Database>,
  changes: readonly HostChange[],
  now: number,
  clock: () => number,
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
      await recordEvent(db, clock(), row.id, "listing", listingMessage(row, ev), {
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

function listingMessage(row: JudgedHost, ev: HostEvaluation): string {
  const why = ev.listing.reasons.length ? ` (${ev.listing.reasons.join(", ")})` : "";
  return `${row.id}: ${row.listing_state} → ${ev.listing.state}${why}`;
}

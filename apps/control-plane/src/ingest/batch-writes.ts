import { type Insertable, type Kysely, sql } from "kysely";
import type { Database, GpuSamplesTable, HostsTable } from "../store/schema.js";

// The multi-row statements that keep a batch of steady telemetry at a fixed handful of statements.

/**
 * The columns a steady stream of telemetry and heartbeats changes. Hosts whose batch changed only
 * these are written by one multi-row UPDATE per batch instead of one statement per host.
 */
const HOT_COLUMNS = ["last_seen_at", "telemetry", "telemetry_at", "sample_at"] as const;
const HOT_SET = new Set<string>(HOT_COLUMNS);

export function isHotColumn(column: string): boolean {
  return HOT_SET.has(column);
}
/** Rows per multi-row statement: well under SQLite's and PostgreSQL's bound-parameter limits. */
const ROWS_PER_STATEMENT = 500;
/** The batch's chart samples, a few multi-row INSERTs instead of one per report. */
export async function insertSamples(
  trx: Kysely<Database>,
  samples: Insertable<GpuSamplesTable>[],
): Promise<void> {
  for (let k = 0; k < samples.length; k += ROWS_PER_STATEMENT) {
    await trx
      .insertInto("gpu_samples")
      .values(samples.slice(k, k + ROWS_PER_STATEMENT))
      .onConflict((oc) => oc.columns(["host_id", "at", "gpu_index"]).doNothing())
      .execute();
  }
}

/**
 * Write the hot columns of many hosts in one statement per `ROWS_PER_STATEMENT`:
 * `UPDATE … FROM (VALUES …)`, which SQLite (3.33+) and PostgreSQL both accept. A column the
 * batch did not change is sent as NULL and keeps its stored value (none of them is ever cleared).
 * VALUES parameters have no declared type in PostgreSQL (they arrive as text), hence the casts.
 */
export async function updateHotColumns(
  trx: Kysely<Database>,
  hosts: ReadonlyArray<{ row: { id: string }; patch: Partial<Omit<HostsTable, "id">> }>,
): Promise<void> {
  for (let k = 0; k < hosts.length; k += ROWS_PER_STATEMENT) {
    const rows = hosts
      .slice(k, k + ROWS_PER_STATEMENT)
      .map(
        ({ row, patch }) =>
          sql`(${row.id}, ${patch.last_seen_at ?? null}, ${patch.telemetry ?? null}, ${patch.telemetry_at ?? null}, ${patch.sample_at ?? null})`,
      );
    await sql`update hosts set
        last_seen_at = coalesce(cast(v.column2 as bigint), hosts.last_seen_at),
        telemetry = coalesce(v.column3, hosts.telemetry),
        telemetry_at = coalesce(cast(v.column4 as bigint), hosts.telemetry_at),
        sample_at = coalesce(cast(v.column5 as bigint), hosts.sample_at)
      from (values ${sql.join(rows)}) as v
      where hosts.id = v.column1`.execute(trx);
  }
}

import { type Kysely, type Migration, type MigrationProvider, Migrator } from "kysely";

/**
 * Migrations, in order, written once with Kysely's schema builder so the same DDL runs on
 * SQLite and PostgreSQL. Never edit a released migration; add the next one.
 */
const MIGRATIONS: Record<string, Migration> = {
  "0001_initial": {
    // Long: the initial schema, one table after another; a migration stays as written once shipped.
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("enrollment_tokens")
        .addColumn("token_hash", "text", (c) => c.primaryKey())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("expires_at", "bigint", (c) => c.notNull())
        .addColumn("used_at", "bigint")
        .addColumn("host_id", "text")
        .execute();
      await db.schema
        .createTable("hosts")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("hostname", "text", (c) => c.notNull())
        .addColumn("token_hash", "text", (c) => c.notNull().unique())
        .addColumn("enrolled_at", "bigint", (c) => c.notNull())
        .addColumn("machine", "text", (c) => c.notNull())
        .addColumn("first_seen_at", "bigint")
        .addColumn("last_seen_at", "bigint")
        .addColumn("health_state", "text")
        .addColumn("health", "text")
        .addColumn("gpu_health", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("flags", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("listing_state", "text", (c) => c.notNull())
        .addColumn("listing_reasons", "text", (c) => c.notNull().defaultTo("[]"))
        .addColumn("listing_since", "bigint", (c) => c.notNull())
        .addColumn("reliability", "double precision", (c) => c.notNull().defaultTo(1))
        .addColumn("reliability_at", "bigint")
        .addColumn("telemetry", "text")
        .addColumn("telemetry_at", "bigint")
        .addColumn("sample_at", "bigint")
        .execute();
      await db.schema
        .createTable("messages")
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("received_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("messages_pk", ["host_id", "id"])
        .execute();
      await db.schema.createIndex("messages_received").on("messages").column("received_at").execute();
      await db.schema
        .createTable("offline_periods")
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("start_at", "bigint", (c) => c.notNull())
        .addColumn("end_at", "bigint", (c) => c.notNull())
        .addPrimaryKeyConstraint("offline_periods_pk", ["host_id", "start_at"])
        .execute();
      await db.schema
        .createTable("state_changes")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("health_state", "text")
        .addColumn("listing_state", "text", (c) => c.notNull())
        .addColumn("listing_reasons", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("state_changes_host_at")
        .on("state_changes")
        .columns(["host_id", "at"])
        .execute();
      await db.schema
        .createTable("maintenance_windows")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("start_at", "bigint", (c) => c.notNull())
        .addColumn("end_at", "bigint", (c) => c.notNull())
        .addColumn("immediate", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("cancelled", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("reason", "text")
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("maintenance_host")
        .on("maintenance_windows")
        .columns(["host_id", "start_at"])
        .execute();
      await db.schema
        .createTable("rentals")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("renter", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("ended_at", "bigint")
        .execute();
      await db.schema.createIndex("rentals_host").on("rentals").columns(["host_id", "ended_at"]).execute();
      await db.schema
        .createTable("events")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("host_id", "text")
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .addColumn("data", "text")
        .execute();
      await db.schema.createIndex("events_at").on("events").column("at").execute();
      await db.schema.createIndex("events_host_at").on("events").columns(["host_id", "at"]).execute();
      await db.schema
        .createTable("gpu_samples")
        .addColumn("host_id", "text", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("gpu_index", "integer", (c) => c.notNull())
        .addColumn("temperature_celsius", "double precision")
        .addColumn("utilization_ratio", "double precision")
        .addColumn("memory_used_bytes", "double precision")
        .addColumn("power_watts", "double precision")
        .addPrimaryKeyConstraint("gpu_samples_pk", ["host_id", "at", "gpu_index"])
        .execute();
    },
  },
  "0002_agent_link": {
    // The agent's WebSocket as the replica holding it last saw it: connected, closed, or lost
    // (no pong within the deadline: a half-open link), and since when.
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("hosts").addColumn("link_state", "text").execute();
      await db.schema.alterTable("hosts").addColumn("link_since", "bigint").execute();
    },
  },
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Apply every pending migration; a failure stops the start with the migration's name. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const migrator = new Migrator({ db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error")?.migrationName ?? "unknown";
    throw new Error(`database migration ${failed} failed: ${(error as Error).message}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError, UnavailableError } from "@podkit/core";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { Availability, type AvailabilityOptions } from "./availability.js";
import { type Checkpointer, startCheckpointer } from "./checkpointer.js";
import { migrateToLatest } from "./migrations.js";
import { resilientPool } from "./pg-pool.js";
import type { Database } from "./schema.js";
import { withStatementCache } from "./statement-cache.js";

export type DbKind = "sqlite" | "postgres";

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: DbKind;
  /** Where it is, without any password (for logs and the dashboard). */
  description: string;
  /** Whether the database takes writes now (a circuit breaker fed by every caller). */
  availability: Availability;
  close(): Promise<void>;
}

export interface DatabaseTimeouts {
  /** Longest a PostgreSQL statement may run (server-side `statement_timeout`; the client gives up 2 s later). Default 8 s. */
  statementMs?: number;
  /** Longest a caller waits for a PostgreSQL connection from the pool, connecting included. Default 5 s. */
  acquireMs?: number;
  /** Longest a SQLite write waits for another process's lock (`busy_timeout`; it blocks the event loop). Default 1 s. */
  sqliteBusyMs?: number;
}

/** `postgres://…` / `postgresql://…` is PostgreSQL; anything else is a SQLite file path. */
export function dbKindOf(target: string): DbKind {
  return /^postgres(ql)?:\/\//i.test(target) ? "postgres" : "sqlite";
}

export function redactDbUrl(target: string): string {
  if (dbKindOf(target) === "sqlite") return target;
  try {
    const url = new URL(target);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "postgres://(unparsable url)";
  }
}

const PG_INT8 = 20;

/**
 * Open the store and apply migrations. SQLite runs in WAL mode with full fsync on commit.
 * `onBackgroundError` hears what fails outside any query, and is survived: a pooled PostgreSQL
 * connection that broke while idle (a server restart, a failover; the pool opens a new one when
 * next needed), or SQLite's checkpoint thread dying (the main connection's own checkpoints remain).
 */
// Long: one open path per dialect (PostgreSQL, SQLite) with the shared checkpoint and error wiring.
export async function openDatabase(
  target: string,
  onBackgroundError: (err: Error, what: string) => void = () => {},
  options: { timeouts?: DatabaseTimeouts; onAvailability?: AvailabilityOptions["onChange"] } = {},
): Promise<OpenedDatabase> {
  const kind = dbKindOf(target);
  const timeouts = options.timeouts ?? {};
  let db: Kysely<Database>;
  let checkpointer: Checkpointer | null = null;
  let probe: () => Promise<void>;
  let closeProbe = () => {};
  if (kind === "sqlite") {
    if (target !== ":memory:") mkdirSync(dirname(target), { recursive: true });
    let sqlite: SQLite.Database;
    try {
      sqlite = new SQLite(target);
    } catch (err) {
      throw new ConfigError(`cannot open SQLite database ${target}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    sqlite.pragma("journal_mode = WAL");
    // FULL: an acknowledged message survives a power cut, not just a crash. Batched commits keep it cheap.
    sqlite.pragma("synchronous = FULL");
    // Short: better-sqlite3 waits for a lock synchronously, stalling every socket meanwhile. A write
    // that finds the database locked longer is answered "retry later" (see availability.ts).
    sqlite.pragma(`busy_timeout = ${Math.round(timeouts.sqliteBusyMs ?? 1000)}`);
    if (target !== ":memory:") {
      sqlite.pragma("wal_autocheckpoint = 20000");
      checkpointer = startCheckpointer(target, (err) =>
        onBackgroundError(err, "the SQLite checkpoint thread stopped; commits checkpoint the WAL themselves"),
      );
    }
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
    // The probe asks for the write lock on its own connection without waiting: it must not block
    // the event loop while another process holds the lock.
    let prober: SQLite.Database | null = null;
    probe = async () => {
      prober ??= new SQLite(target, { timeout: 0 });
      prober.exec("BEGIN IMMEDIATE; ROLLBACK");
    };
    closeProbe = () => prober?.close();
  } else {
    const pool = resilientPool({
      connectionString: target,
      max: 10,
      statementTimeoutMs: timeouts.statementMs ?? 8000,
      acquireTimeoutMs: timeouts.acquireMs ?? 5000,
      // Epoch milliseconds are bigint columns; they fit a JS number, so parse them as one.
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === PG_INT8
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
      onBackgroundError,
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    probe = async () => {
      await sql`select 1`.execute(db);
    };
  }
  const availability = new Availability({ probe, onChange: options.onAvailability });
  try {
    if (kind === "postgres") await sql`select 1`.execute(db);
  } catch (err) {
    await db.destroy().catch(() => {});
    throw new UnavailableError(
      `cannot reach PostgreSQL at ${redactDbUrl(target)}: ${(err as Error).message}; check the URL and that the server runs`,
      { cause: err },
    );
  }
  const close = async () => {
    availability.close();
    closeProbe();
    await checkpointer?.stop();
    await db.destroy();
  };
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { db, kind, description: `${kind} ${redactDbUrl(target)}`, availability, close };
}

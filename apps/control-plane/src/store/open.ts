import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { ConfigError, UnavailableError } from "@podkit/core";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";
import { type Checkpointer, startCheckpointer } from "./checkpointer.js";
import { migrateToLatest } from "./migrations.js";
import type { Database } from "./schema.js";
import { withStatementCache } from "./statement-cache.js";

export type DbKind = "sqlite" | "postgres";

export interface OpenedDatabase {
  db: Kysely<Database>;
  kind: DbKind;
  /** Where it is, without any password (for logs and the dashboard). */
  description: string;
  close(): Promise<void>;
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
export async function openDatabase(
  target: string,
  onBackgroundError: (err: Error, what: string) => void = () => {},
): Promise<OpenedDatabase> {
  const kind = dbKindOf(target);
  let db: Kysely<Database>;
  let checkpointer: Checkpointer | null = null;
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
    sqlite.pragma("busy_timeout = 5000");
    if (target !== ":memory:") {
      sqlite.pragma("wal_autocheckpoint = 20000");
      checkpointer = startCheckpointer(
        target,
        createRequire(import.meta.url).resolve("better-sqlite3"),
        (err) =>
          onBackgroundError(
            err,
            "the SQLite checkpoint thread stopped; commits checkpoint the WAL themselves",
          ),
      );
    }
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  } else {
    const pool = new pg.Pool({
      connectionString: target,
      max: 10,
      // Epoch milliseconds are bigint columns; they fit a JS number, so parse them as one.
      types: {
        getTypeParser: ((oid: number, format?: "text" | "binary") =>
          oid === PG_INT8
            ? (v: string) => Number(v)
            : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
      },
    });
    // Without a listener, pg re-throws an idle connection's error and the process stops.
    pool.on("error", (err) =>
      onBackgroundError(err, "lost an idle database connection; a new one is opened when needed"),
    );
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  }
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
    await checkpointer?.stop();
    await db.destroy();
  };
  try {
    await migrateToLatest(db as unknown as Kysely<unknown>);
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return { db, kind, description: `${kind} ${redactDbUrl(target)}`, close };
}

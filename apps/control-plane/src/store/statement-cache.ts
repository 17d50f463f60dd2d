import type SQLite from "better-sqlite3";
import type { SqliteDatabase, SqliteStatement } from "kysely";

/**
 * Kysely's SQLite driver prepares every query it runs, and on the ingest path that compile step
 * cost as much CPU as running the statements. Queries built by the same code have the same SQL
 * text, so a prepared statement is kept per text and reused (least recently used dropped first).
 * Reuse is safe because better-sqlite3 runs each statement to completion synchronously; the one
 * exception, `iterate`, is used only by Kysely's streaming, which the control plane does not use.
 */
export function withStatementCache(sqlite: SQLite.Database, capacity = 256): SqliteDatabase {
  const cache = new Map<string, SQLite.Statement>();
  return {
    close: () => {
      cache.clear();
      sqlite.close();
    },
    prepare: (sql: string): SqliteStatement => {
      let stmt = cache.get(sql);
      if (stmt) {
        // Move to the back: the Map's first key is then the least recently used.
        cache.delete(sql);
      } else {
        stmt = sqlite.prepare(sql);
        if (cache.size >= capacity) cache.delete(cache.keys().next().value!);
      }
      cache.set(sql, stmt);
      if (/^\s*rollback\s*$/i.test(sql)) return rollbackIfOpen(sqlite, stmt);
      return stmt as unknown as SqliteStatement;
    },
  };
}

/**
 * SQLite rolls a transaction back by itself when a write fails with SQLITE_FULL or SQLITE_IOERR;
 * Kysely's ROLLBACK then fails with "no transaction is active" and that error replaces the one
 * that says what happened (a full disk). Rolling back only what is still open keeps the cause.
 */
function rollbackIfOpen(sqlite: SQLite.Database, stmt: SQLite.Statement): SqliteStatement {
  return {
    reader: false,
    all: (parameters: ReadonlyArray<unknown>) => (sqlite.inTransaction ? stmt.all(...parameters) : []),
    run: (parameters: ReadonlyArray<unknown>) =>
      sqlite.inTransaction ? stmt.run(...parameters) : { changes: 0, lastInsertRowid: 0 },
    iterate: (parameters: ReadonlyArray<unknown>) => stmt.iterate(...parameters),
  } as unknown as SqliteStatement;
}

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
      return stmt as unknown as SqliteStatement;
    },
  };
}

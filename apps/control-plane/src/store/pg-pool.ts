import type { PostgresPool, PostgresPoolClient } from "kysely";
import pg from "pg";
import { classifyDbError } from "./availability.js";

export interface ResilientPoolOptions {
  connectionString: string;
  max: number;
  /** Server-side `statement_timeout`; the client stops waiting 2 s after it (a stalled server never answers). */
  statementTimeoutMs: number;
  /** Waiting for a pooled connection, opening it included. */
  acquireTimeoutMs: number;
  types?: pg.PoolConfig["types"];
  /** What fails outside any caller's query: logged by the caller, never a reason to stop. */
  onBackgroundError: (err: Error, what: string) => void;
}

/**
 * A node-postgres pool that no database fault can take the process down with, and that never
 * lets a caller wait without bound:
 * - every client has an `'error'` listener for its whole life, not only while idle in the pool
 *   (pg emits `'error'` on a checked-out client whose connection breaks mid-query; unheard, that
 *   is an uncaught exception);
 * - statement, idle-in-transaction and connection-acquisition timeouts, TCP keep-alive;
 * - a client whose query failed because the database went away (a reset, a client-side timeout
 *   while the server is stalled) goes back to the pool destroyed, so a half-dead connection is
 *   never handed out again.
 */
export function resilientPool(options: ResilientPoolOptions): PostgresPool & { raw: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    connectionTimeoutMillis: options.acquireTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 2000,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 4,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    ...(options.types ? { types: options.types } : {}),
  });
  // An idle client's error: pg-pool drops the client, and without this listener re-throws it.
  pool.on("error", (err) =>
    options.onBackgroundError(err, "lost an idle database connection; a new one is opened when needed"),
  );
  pool.on("connect", (client) => {
    client.on("error", (err) =>
      options.onBackgroundError(
        err,
        "lost a database connection in use; its query fails (retried later) and a new connection is opened",
      ),
    );
  });
  return {
    raw: pool,
    end: () => pool.end(),
    connect: async (): Promise<PostgresPoolClient> => {
      const client = await pool.connect();
      let broken = false;
      const query = ((...args: Parameters<pg.PoolClient["query"]>) => {
        const result = (client.query as (...a: unknown[]) => unknown)(...args);
        if (result && typeof (result as Promise<unknown>).then === "function") {
          return (result as Promise<unknown>).catch((err: unknown) => {
            if (classifyDbError(err) === "unavailable") broken = true;
            throw err;
          });
        }
        return result;
      }) as PostgresPoolClient["query"];
      return {
        query,
        get processID() {
          return (client as unknown as { processID?: number }).processID;
        },
        release: (destroy?: boolean) => client.release(destroy || broken),
      } as PostgresPoolClient;
    },
  };
}

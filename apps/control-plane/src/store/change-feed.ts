import { randomUUID } from "node:crypto";
import type { Logger } from "@podkit/core";
import pg from "pg";
import { resilientPool } from "./pg-pool.js";

/** The PostgreSQL channel replicas tell each other about changed hosts on. */
export const HOST_CHANGES_CHANNEL = "podkit_host_changes";
/** NOTIFY payloads must stay under 8000 bytes; host ids are at most ~60 characters. */
const IDS_PER_NOTIFY = 100;

export interface ChangeFeed {
  /** Tell the other replicas these hosts changed (after the change is committed). */
  publish(hostIds: string[]): Promise<void>;
  close(): Promise<void>;
}

export interface ChangeFeedOptions {
  /** How often the listening connection is checked with a query (a stalled server sends no error). */
  checkEveryMs?: number;
  /** The check's and the connect's deadline. */
  timeoutMs?: number;
}

/**
 * Host changes shared between control-plane replicas on one PostgreSQL with LISTEN/NOTIFY, so an
 * agent connected to one replica hears at once about a change made through another (a window
 * scheduled, a rental) instead of at that replica's next sweep. One dedicated connection listens,
 * checked by a query every few seconds; if it drops or stalls it is opened again, and then
 * `onResync` re-reads what may have been missed meanwhile (notifications are not queued for a
 * listener that is away).
 */
// Long: one LISTEN connection whose reconnect, catch-up and dispatch share its state.
export async function startChangeFeed(
  url: string,
  onRemoteChange: (hostIds: string[]) => void,
  log: Logger,
  onResync: () => void = () => {},
  options: ChangeFeedOptions = {},
): Promise<ChangeFeed> {
  const replica = randomUUID();
  const timeoutMs = options.timeoutMs ?? 5000;
  // A pool of one for sending: NOTIFY must not wait behind the ingest's transactions.
  const sender = resilientPool({
    connectionString: url,
    max: 1,
    statementTimeoutMs: timeoutMs,
    acquireTimeoutMs: timeoutMs,
    onBackgroundError: (err) => log.warn({ err: err.message }, "host-change sender lost its connection"),
  });
  let listener: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;
  let lost = false;

  const reconnectLater = () => {
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void listen().catch(() => {});
    }, 1000);
  };
  const drop = (client: pg.Client, why: string, err: Error) => {
    if (listener !== client && listener !== null) return;
    if (!lost) log.warn({ err: err.message }, `host-change listener ${why}; reconnecting`);
    lost = true;
    listener = null;
    void client.end().catch(() => {});
    reconnectLater();
  };

  const listen = async (): Promise<void> => {
    const client = new pg.Client({
      connectionString: url,
      // Named, so an operator (or a test) can tell it apart in pg_stat_activity.
      application_name: "podkit-change-feed",
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      keepAlive: true,
    });
    client.on("notification", (msg) => {
      try {
        const { from, ids } = JSON.parse(msg.payload ?? "{}") as { from?: string; ids?: unknown };
        if (from === replica || !Array.isArray(ids)) return;
        onRemoteChange(ids.filter((id): id is string => typeof id === "string"));
      } catch {
        log.warn({ payload: msg.payload }, "ignored an unreadable host-change notification");
      }
    });
    client.on("error", (err) => drop(client, "lost its connection", err));
    try {
      await client.connect();
      await client.query(`LISTEN ${HOST_CHANGES_CHANNEL}`);
    } catch (err) {
      void client.end().catch(() => {});
      if (closed) return;
      if (!lost) log.warn({ err: (err as Error).message }, "cannot listen for host changes; retrying");
      lost = true;
      reconnectLater();
      return;
    }
    if (closed) {
      void client.end().catch(() => {});
      return;
    }
    listener = client;
    if (lost) {
      lost = false;
      log.info("host-change listener is back; re-reading the state of this replica's hosts");
      onResync();
    }
  };
  await listen();
  // A stalled server (or a cut link) sends no error: ask it something now and then.
  const check = setInterval(() => {
    const client = listener;
    if (!client) return;
    client.query("select 1").catch((err: Error) => drop(client, "stopped answering", err));
  }, options.checkEveryMs ?? 5000);
  check.unref();

  return {
    publish: async (hostIds) => {
      for (let k = 0; k < hostIds.length; k += IDS_PER_NOTIFY) {
        const payload = JSON.stringify({ from: replica, ids: hostIds.slice(k, k + IDS_PER_NOTIFY) });
        const client = await sender.connect();
        try {
          await client.query("select pg_notify($1, $2)", [HOST_CHANGES_CHANNEL, payload]);
        } finally {
          client.release();
        }
      }
    },
    close: async () => {
      closed = true;
      clearInterval(check);
      if (retry) clearTimeout(retry);
      await listener?.end().catch(() => {});
      await sender.end();
    },
  };
}

import { randomUUID } from "node:crypto";
import type { Logger } from "@podkit/core";
import pg from "pg";

/** The PostgreSQL channel replicas tell each other about changed hosts on. */
export const HOST_CHANGES_CHANNEL = "podkit_host_changes";
/** NOTIFY payloads must stay under 8000 bytes; host ids are at most ~60 characters. */
const IDS_PER_NOTIFY = 100;

export interface ChangeFeed {
  /** Tell the other replicas these hosts changed (after the change is committed). */
  publish(hostIds: string[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Host changes shared between control-plane replicas on one PostgreSQL with LISTEN/NOTIFY, so an
 * agent connected to one replica hears at once about a change made through another (a window
 * scheduled, a rental) instead of at that replica's next sweep. One dedicated connection listens;
 * if it drops it is opened again, and until then the sweep still delivers every change.
 */
export async function startChangeFeed(
  url: string,
  onRemoteChange: (hostIds: string[]) => void,
  log: Logger,
): Promise<ChangeFeed> {
  const replica = randomUUID();
  // A pool of one for sending: NOTIFY must not wait behind the ingest's transactions.
  const sender = new pg.Pool({ connectionString: url, max: 1 });
  // An idle connection that breaks is dropped by the pool; without a listener pg would re-throw it.
  sender.on("error", (err) => log.warn({ err: err.message }, "host-change sender lost its connection"));
  let listener: pg.Client | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  const listen = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    client.on("notification", (msg) => {
      try {
        const { from, ids } = JSON.parse(msg.payload ?? "{}") as { from?: string; ids?: unknown };
        if (from === replica || !Array.isArray(ids)) return;
        onRemoteChange(ids.filter((id): id is string => typeof id === "string"));
      } catch {
        log.warn({ payload: msg.payload }, "ignored an unreadable host-change notification");
      }
    });
    client.on("error", (err) => {
      log.warn({ err: err.message }, "host-change listener lost its connection; reconnecting");
      void client.end().catch(() => {});
      if (listener === client) listener = null;
      if (!closed) retry = setTimeout(() => void listen().catch(() => {}), 1000);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${HOST_CHANGES_CHANNEL}`);
      listener = client;
    } catch (err) {
      void client.end().catch(() => {});
      if (closed) return;
      log.warn({ err: (err as Error).message }, "cannot listen for host changes; retrying");
      retry = setTimeout(() => void listen().catch(() => {}), 1000);
    }
  };
  await listen();

  return {
    publish: async (hostIds) => {
      for (let k = 0; k < hostIds.length; k += IDS_PER_NOTIFY) {
        const payload = JSON.stringify({ from: replica, ids: hostIds.slice(k, k + IDS_PER_NOTIFY) });
        await sender.query("select pg_notify($1, $2)", [HOST_CHANGES_CHANNEL, payload]);
      }
    },
    close: async () => {
      closed = true;
      if (retry) clearTimeout(retry);
      await listener?.end().catch(() => {});
      await sender.end();
    },
  };
}

import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import {
  type AgentMessage,
  AgentMessageSchema,
  type ControlPlaneMessage,
  type Logger,
  NACK_CODES,
  type NackCode,
  PROTOCOL_VERSION,
  parseWith,
} from "@podkit/core";
import type { Kysely } from "kysely";
import { WebSocket, WebSocketServer } from "ws";
import { bearerToken, newId } from "../auth/tokens.js";
import { RetryLaterError } from "../errors.js";
import { toStoredWindow } from "../fleet/facts.js";
import type { Fleet } from "../fleet/fleet.js";
import { toMaintenanceWindow } from "../rules/maintenance.js";
import { parseJson } from "../store/json.js";
import type { Database } from "../store/schema.js";
import type { Ingest } from "./ingest.js";

export const AGENT_WS_PATH = "/api/v1/agent/ws";
type HostStatePayload = Extract<ControlPlaneMessage, { type: "host-state" }>["payload"];

function envelope<T extends ControlPlaneMessage["type"]>(
  type: T,
  payload: Extract<ControlPlaneMessage, { type: T }>["payload"],
): string {
  return JSON.stringify({
    v: PROTOCOL_VERSION,
    id: newId("cp"),
    type,
    sentAt: new Date().toISOString(),
    payload,
  });
}

/** A nack frame: its kind follows from the code (see `NACK_CODES` in the protocol). */
function nack(id: string | null, code: NackCode, reason: string, retryAfterMs?: number): string {
  return envelope("nack", {
    id,
    kind: NACK_CODES[code],
    code,
    reason,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** Why a frame is not a valid agent message, in words the agent's log can show. */
export function checkAgentFrame(
  text: string,
): { ok: true; message: AgentMessage } | { ok: false; id: string | null; code: NackCode; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {
      ok: false,
      id: null,
      code: "NOT_JSON",
      reason: "not JSON: every frame is one JSON message envelope",
    };
  }
  const obj = (raw && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  const id = typeof obj.id === "string" && obj.id.length >= 8 && obj.id.length <= 128 ? obj.id : null;
  if (obj.v !== PROTOCOL_VERSION) {
    return {
      ok: false,
      id,
      code: "UNSUPPORTED_VERSION",
      reason: `protocol version ${JSON.stringify(obj.v)} not supported (this control plane speaks ${PROTOCOL_VERSION})`,
    };
  }
  try {
    return { ok: true, message: parseWith(AgentMessageSchema, raw, "agent message") };
  } catch (err) {
    return { ok: false, id, code: "INVALID_MESSAGE", reason: (err as Error).message };
  }
}

/**
 * The agents' WebSocket: host token checked during the upgrade, every message acknowledged once
 * stored (acks from one batch go out as one frame), `host-state` pushed after register and on change.
 */
export class AgentGateway {
  // No permessage-deflate (also ws's default, said here on purpose): reports are small and
  // compressing every frame of thousands of agents would cost the event loop more than it saves.
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: 1024 * 1024,
    perMessageDeflate: false,
  });
  private readonly sockets = new Map<string, Set<WebSocket>>();
  private readonly lastState = new WeakMap<WebSocket, string>();
  private readonly pendingAcks = new Map<WebSocket, string[]>();
  /** Sockets that answered the last ping (or connected since). */
  private readonly alive = new WeakSet<WebSocket>();
  private readonly hostOf = new Map<WebSocket, string>();
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly fleet: Fleet,
    private readonly ingest: Ingest,
    private readonly db: Kysely<Database>,
    private readonly clock: () => number,
    private readonly log: Logger,
    /** A ping every this many ms; a socket with no pong by the next one is dead (default 15 s). */
    pingIntervalMs = 15_000,
  ) {
    this.pinger = setInterval(() => this.pingAll(), pingIntervalMs);
    this.pinger.unref();
  }

  /**
   * A link that died without a FIN or RST (NAT timeout, cable pulled, VM paused) looks open for
   * as long as TCP takes to give up — many minutes. A socket that did not answer the previous
   * ping is dropped at once and its host's link marked \`lost\`; the agent, which pings too,
   * reconnects and sends again what was not acknowledged.
   */
  private pingAll(): void {
    for (const [ws, hostId] of this.hostOf) {
      if (!this.alive.has(ws)) {
        this.log.warn({ hostId }, "agent link dead (no pong within the deadline); dropping the socket");
        this.forget(ws, hostId, "lost");
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private forget(ws: WebSocket, hostId: string, state: "closed" | "lost"): void {
    if (!this.hostOf.delete(ws)) return;
    const set = this.sockets.get(hostId);
    set?.delete(ws);
    if (set && set.size === 0) this.sockets.delete(hostId);
    // Another socket of the same host (a reconnect that came first) keeps the link up.
    if (!this.sockets.has(hostId)) this.markLink(hostId, state);
  }

  private markLink(hostId: string, state: "connected" | "closed" | "lost"): void {
    this.fleet
      .markLink(hostId, state)
      .catch((err: Error) => this.log.debug({ hostId, err: err.message }, "could not record the agent link"));
  }

  get connectedHosts(): number {
    return this.sockets.size;
  }

  /** Handle an HTTP upgrade; returns false when the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const path = (req.url ?? "").split("?")[0];
    if (path !== AGENT_WS_PATH) return false;
    // Node's HTTP server drops its own error listener from an upgraded socket. Until ws takes the
    // socket over (and for good when it is refused), this one listens: a client that resets the
    // connection during the token check would otherwise raise an uncaught ECONNRESET and stop the
    // whole control plane.
    const dropped = () => socket.destroy();
    socket.on("error", dropped);
    const token = bearerToken(req.headers.authorization);
    (token ? this.fleet.authenticateHost(token) : Promise.resolve(null))
      .then(
        (hostId) => {
          if (socket.destroyed) return;
          if (!hostId) {
            refuse(socket, 401, "a valid host token (Authorization: Bearer pkh_…) is required");
            return;
          }
          socket.off("error", dropped);
          this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, hostId));
        },
        (err: Error) => {
          this.log.error({ err }, "agent authentication failed");
          refuse(socket, 503, "the control plane cannot check tokens right now");
        },
      )
      .catch((err: Error) => {
        this.log.error({ err }, "agent upgrade failed");
        socket.destroy();
      });
    return true;
  }

  private accept(ws: WebSocket, hostId: string): void {
    const set = this.sockets.get(hostId) ?? new Set<WebSocket>();
    this.sockets.set(hostId, set);
    set.add(ws);
    this.hostOf.set(ws, hostId);
    this.alive.add(ws);
    ws.on("pong", () => this.alive.add(ws));
    this.markLink(hostId, "connected");
    this.log.info({ hostId }, "agent connected");
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        this.send(
          ws,
          nack(null, "BINARY_FRAME", "binary frames are not part of the protocol; send JSON text"),
        );
        return;
      }
      this.receive(ws, hostId, data.toString());
    });
    ws.on("close", () => this.forget(ws, hostId, "closed"));
    ws.on("error", (err) => this.log.warn({ hostId, err: err.message }, "agent socket error"));
  }

  private receive(ws: WebSocket, hostId: string, text: string): void {
    const checked = checkAgentFrame(text);
    if (!checked.ok) {
      this.log.warn({ hostId, reason: checked.reason }, "rejected agent message");
      this.send(ws, nack(checked.id, checked.code, checked.reason));
      return;
    }
    const message = checked.message;
    this.ingest.submit(hostId, message).then(
      () => {
        this.queueAck(ws, message.id);
        if (message.type === "register") void this.pushStates([hostId], true);
      },
      (err: Error) => {
        // Every message of a database outage gets here: the outage itself is logged once (server.ts).
        if (err instanceof RetryLaterError) {
          this.log.debug({ hostId, id: message.id, code: err.nackCode }, "agent message: retry later");
          this.send(ws, nack(message.id, err.nackCode, err.message, err.retryAfterMs));
          return;
        }
        this.log.error({ hostId, id: message.id, err: err.message }, "could not store agent message");
        this.send(
          ws,
          nack(
            message.id,
            "STORE_FAILED",
            "the control plane could not store this message; send it again later",
            5000,
          ),
        );
      },
    );
  }

  /** Acks resolved in the same tick (one committed batch) leave as one frame per socket. */
  private queueAck(ws: WebSocket, id: string): void {
    const ids = this.pendingAcks.get(ws);
    if (ids) {
      ids.push(id);
      return;
    }
    this.pendingAcks.set(ws, [id]);
    queueMicrotask(() => {
      const all = this.pendingAcks.get(ws)!;
      this.pendingAcks.delete(ws);
      this.send(ws, envelope("ack", { ids: all }));
    });
  }

  private send(ws: WebSocket, frame: string): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  }

  /** Send `host-state` to connected agents whose state differs from what they last got. */
  async pushStates(hostIds: string[] | "connected", force = false): Promise<void> {
    const ids =
      hostIds === "connected" ? [...this.sockets.keys()] : hostIds.filter((id) => this.sockets.has(id));
    if (ids.length === 0) return;
    try {
      // Slices keep each query and each burst of frames short on a large fleet.
      for (let k = 0; k < ids.length; k += 500) {
        await this.pushSlice(ids.slice(k, k + 500), force);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "could not send host state");
    }
  }

  private async pushSlice(ids: string[], force: boolean): Promise<void> {
    const states = await hostStates(this.db, this.clock(), ids);
    for (const [id, state] of states) {
      const frame = JSON.stringify(state);
      for (const ws of this.sockets.get(id) ?? []) {
        if (!force && this.lastState.get(ws) === frame) continue;
        this.lastState.set(ws, frame);
        this.send(ws, envelope("host-state", state));
      }
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const set of this.sockets.values())
      for (const ws of set) ws.close(1001, "control plane shutting down");
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function refuse(socket: Duplex, status: number, reason: string): void {
  const text = status === 401 ? "Unauthorized" : "Service Unavailable";
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(reason)}\r\nConnection: close\r\n\r\n${reason}`,
  );
}

/** What each host's agent should know: rented, listing, its current and coming maintenance. */
async function hostStates(
  db: Kysely<Database>,
  now: number,
  ids: string[],
): Promise<Map<string, HostStatePayload>> {
  const rows = await db
    .selectFrom("hosts")
    .select(["id", "listing_state", "listing_reasons", "listing_since"])
    .where("id", "in", ids)
    .execute();
  const rented = new Set(
    (
      await db
        .selectFrom("rentals")
        .select("host_id")
        .where("host_id", "in", ids)
        .where("ended_at", "is", null)
        .execute()
    ).map((r) => r.host_id),
  );
  const windows = await db
    .selectFrom("maintenance_windows")
    .selectAll()
    .where("host_id", "in", ids)
    .where("end_at", ">", now)
    .where("cancelled", "=", 0)
    .orderBy("start_at")
    .execute();
  const out = new Map<string, HostStatePayload>();
  for (const row of rows) {
    out.set(row.id, {
      hostId: row.id,
      rented: rented.has(row.id),
      listing: {
        state: row.listing_state as HostStatePayload["listing"]["state"],
        reasons: parseJson<string[]>(row.listing_reasons, []),
        since: new Date(row.listing_since).toISOString(),
      },
      maintenanceWindows: windows
        .filter((w) => w.host_id === row.id)
        .map((w) => toMaintenanceWindow(toStoredWindow(w), now)),
    });
  }
  return out;
}

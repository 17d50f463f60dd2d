import {
  type AgentMessage,
  Backoff,
  ControlPlaneMessageSchema,
  type HostStateMessageSchema,
  type Logger,
  type MachineInfo,
  PROTOCOL_VERSION,
} from "@podkit/core";
import WebSocket from "ws";
import type { z } from "zod";
import { newMessageId } from "./ids.js";
import type { Outbox } from "./outbox.js";

export type HostState = z.infer<typeof HostStateMessageSchema>["payload"];

export interface ConnectionOptions {
  controlPlane: string;
  hostToken: string;
  outbox: Outbox;
  machineInfo: () => MachineInfo;
  logger: Logger;
  onHostState: (state: HostState) => void;
  onStatus?: (status: ConnectionStatus) => void;
  heartbeatIntervalMs?: number;
  /**
   * A WebSocket ping this often (default 15 s). No pong by the next one, or messages sent with no
   * answer for two intervals, and the link is taken as dead: the socket is dropped and reopened,
   * and what was not acknowledged is sent again.
   */
  pingIntervalMs?: number;
  /** Messages sent without an ack yet, at most. */
  window?: number;
  backoff?: Backoff;
  /** Between resends after a retry-later nack (default 1 s doubling to 30 s, with jitter). */
  retryBackoff?: Backoff;
  /** How often the GPU inventory is compared with what was registered (default 5 s). */
  inventoryCheckMs?: number;
  /** A message the control plane can never accept was set aside (outbox/rejected). */
  onRejected?: (id: string, code: string | undefined, reason: string) => void;
}

export interface ConnectionStatus {
  connected: boolean;
  lastConnectedAt: string | null;
  lastHeartbeatAt: string | null;
  lastAckAt: string | null;
  lastError: string | null;
  reconnects: number;
  acked: number;
  /** Messages set aside because the control plane can never accept them. */
  rejected: number;
  /** Retry-later answers (the message stayed in the outbox and was sent again). */
  retryLater: number;
}

/** What the control plane must hear again when it changes: the GPUs and what reads them. */
export function inventoryKey(info: MachineInfo): string {
  return JSON.stringify([
    info.hostname,
    info.gpusKnown !== false,
    info.driverVersion,
    info.cudaVersion,
    info.gpus.map((g) => [g.index, g.uuid, g.name, g.pciBusId, g.memoryTotalBytes]),
  ]);
}

export function wsUrlFor(controlPlane: string): string {
  const url = new URL(controlPlane);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.pathname = `${url.pathname.replace(/\/$/, "")}/api/v1/agent/ws`;
  return url.toString();
}

/**
 * The agent's side of the WebSocket: register on every connect, then send the outbox in order
 * with a bounded window, delete on ack, reconnect with jittered backoff. Heartbeats are sent
 * only while connected (liveness, not a fact to replay).
 */
export class ControlPlaneConnection {
  readonly status: ConnectionStatus = {
    connected: false,
    lastConnectedAt: null,
    lastHeartbeatAt: null,
    lastAckAt: null,
    lastError: null,
    reconnects: 0,
    acked: 0,
    rejected: 0,
    retryLater: 0,
  };
  private ws: WebSocket | null = null;
  private inFlight = new Set<string>();
  private closed = false;
  private timers = new Set<NodeJS.Timeout>();
  private readonly backoff: Backoff;
  private readonly startedAt = Date.now();
  private pumping = false;
  private readonly retryBackoff: Backoff;
  /** After a retry-later nack nothing is sent until then (epoch ms). */
  private pausedUntil = 0;
  private resumeTimer: NodeJS.Timeout | null = null;
  /** The inventory last registered on this connection. */
  private registered: string | null = null;
  private awaitingPong = false;
  /** When the control plane last sent anything (a frame or a pong). */
  private lastHeardAt = 0;

  constructor(private readonly options: ConnectionOptions) {
    this.backoff = options.backoff ?? new Backoff();
    this.retryBackoff = options.retryBackoff ?? new Backoff(1000, 30_000);
  }

  start(): void {
    this.connect();
    const hb = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs ?? 15_000);
    hb.unref();
    this.timers.add(hb);
    // Other processes (burn-test) enqueue into the same directory: look for new files now and then.
    const scan = setInterval(() => this.kick(true), 1000);
    scan.unref();
    this.timers.add(scan);
    const ping = setInterval(() => this.ping(), this.options.pingIntervalMs ?? 15_000);
    ping.unref();
    this.timers.add(ping);
    const inventory = setInterval(() => this.checkInventory(), this.options.inventoryCheckMs ?? 5000);
    inventory.unref();
    this.timers.add(inventory);
  }

  /** New messages are in the outbox: send them if connected. */
  kick(rescan = false): void {
    if (rescan) this.options.outbox.rescan();
    this.pump();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once("close", () => resolve());
        ws.close();
        setTimeout(() => {
          ws.terminate();
          resolve();
        }, 1000).unref();
      });
    }
  }

  private setStatus(patch: Partial<ConnectionStatus>): void {
    Object.assign(this.status, patch);
    this.options.onStatus?.(this.status);
  }

  private connect(): void {
    if (this.closed) return;
    const { logger } = this.options;
    const ws = new WebSocket(wsUrlFor(this.options.controlPlane), {
      headers: { authorization: `Bearer ${this.options.hostToken}` },
      handshakeTimeout: 10_000,
      // No permessage-deflate: a report is a few KB every 15 s, and each compressed socket keeps
      // zlib contexts alive for the life of the daemon.
      perMessageDeflate: false,
    });
    this.ws = ws;
    let upSince = 0;
    ws.on("open", () => {
      upSince = Date.now();
      this.awaitingPong = false;
      this.lastHeardAt = upSince;
      this.inFlight.clear();
      this.setStatus({ connected: true, lastConnectedAt: new Date().toISOString(), lastError: null });
      logger.info({ controlPlane: this.options.controlPlane }, "connected to the control plane");
      const info = this.options.machineInfo();
      this.registered = inventoryKey(info);
      this.send({
        v: PROTOCOL_VERSION,
        id: newMessageId("reg"),
        type: "register",
        sentAt: new Date().toISOString(),
        payload: info,
      });
      this.options.outbox.rescan();
      this.pump();
    });
    ws.on("message", (data) => {
      this.lastHeardAt = Date.now();
      this.onMessage(String(data));
    });
    ws.on("pong", () => {
      this.awaitingPong = false;
      this.lastHeardAt = Date.now();
    });
    ws.on("unexpected-response", (_req, res) => {
      const why =
        res.statusCode === 401
          ? "the control plane refused the host token (HTTP 401): re-enrol with `podkit agent run --token pke_…`"
          : `the control plane answered HTTP ${res.statusCode} to the WebSocket upgrade`;
      this.setStatus({ lastError: why });
      logger.error(why);
      ws.terminate();
    });
    ws.on("error", (err) => {
      this.setStatus({ lastError: err.message });
    });
    ws.on("close", () => {
      const wasUp = this.status.connected;
      this.setStatus({ connected: false });
      this.inFlight.clear();
      if (this.closed) return;
      if (upSince && Date.now() - upSince > 10_000) this.backoff.reset();
      const delay = this.backoff.next();
      if (wasUp) logger.warn({ retryInMs: delay }, "lost the control plane connection");
      this.setStatus({ reconnects: this.status.reconnects + 1 });
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.connect();
      }, delay);
      this.timers.add(t);
    });
  }

  private send(message: AgentMessage): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(message));
    return true;
  }

  private pump(): void {
    if (this.pumping || !this.status.connected || Date.now() < this.pausedUntil) return;
    this.pumping = true;
    try {
      const window = this.options.window ?? 256;
      const room = window - this.inFlight.size;
      if (room <= 0) return;
      const { messages, unreadable } = this.options.outbox.peek(room, this.inFlight);
      if (unreadable.length > 0)
        this.options.logger.error({ files: unreadable }, "unreadable outbox files left in place");
      for (const m of messages) {
        if (this.inFlight.size >= window) break;
        if (this.inFlight.has(m.id)) continue;
        if (!this.send(m)) break;
        this.inFlight.add(m.id);
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * The GPUs read now differ from those registered (the first reading failed and a later one
   * worked, a GPU fell off the bus, a driver upgrade): register again. Through the outbox, so the
   * new inventory is not lost to a disconnection and keeps its place among the reports.
   */
  private checkInventory(): void {
    if (!this.status.connected || this.registered === null) return;
    const info = this.options.machineInfo();
    const key = inventoryKey(info);
    if (key === this.registered) return;
    this.registered = key;
    this.options.logger.info(
      { gpus: info.gpusKnown === false ? "unknown" : info.gpus.length },
      "GPU inventory changed; registering it with the control plane again",
    );
    this.options.outbox.enqueue({
      v: PROTOCOL_VERSION,
      id: newMessageId("reg"),
      type: "register",
      sentAt: new Date().toISOString(),
      payload: info,
    });
    this.pump();
  }

  /**
   * A link that died without a FIN (NAT timeout, cable pulled, VM paused) would otherwise stall
   * reporting until TCP gives up. Dropping the socket makes the close handler reconnect, and the
   * unacknowledged messages (still in the outbox) are sent again on the new connection.
   */
  private ping(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const interval = this.options.pingIntervalMs ?? 15_000;
    const silentFor = Date.now() - this.lastHeardAt;
    const unanswered = this.inFlight.size > 0 && silentFor > 2 * interval;
    if (this.awaitingPong || unanswered) {
      const why = this.awaitingPong ? "no pong within the deadline" : "sent messages got no answer";
      this.options.logger.warn(
        { silentForMs: silentFor, unacknowledged: this.inFlight.size },
        `control plane link dead (${why}); reconnecting`,
      );
      this.setStatus({ lastError: `link dead: ${why}` });
      ws.terminate();
      return;
    }
    this.awaitingPong = true;
    ws.ping();
  }

  private heartbeat(): void {
    if (!this.status.connected) return;
    const sent = this.send({
      v: PROTOCOL_VERSION,
      id: newMessageId("hb"),
      type: "heartbeat",
      sentAt: new Date().toISOString(),
      payload: { uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000) },
    });
    if (sent) this.setStatus({ lastHeartbeatAt: new Date().toISOString() });
  }

  /**
   * `retry-later`: the message stays in the outbox; sending pauses for a back-off and then starts
   * again from the oldest unacknowledged message, so the order is kept. `rejected`: it can never
   * be stored; it is set aside in outbox/rejected, counted and logged.
   */
  private onNack(nack: {
    id: string | null;
    kind: "retry-later" | "rejected";
    code?: string;
    reason: string;
    retryAfterMs?: number;
  }): void {
    const { logger, outbox } = this.options;
    if (nack.kind === "retry-later") {
      if (nack.id) this.inFlight.delete(nack.id);
      this.setStatus({ retryLater: this.status.retryLater + 1 });
      const now = Date.now();
      if (now < this.pausedUntil) return; // one pause per burst of nacks (a whole window is answered at once)
      const delay = Math.max(nack.retryAfterMs ?? 0, this.retryBackoff.next());
      this.pausedUntil = now + delay;
      logger.warn(
        { code: nack.code, reason: nack.reason, retryInMs: delay, waiting: outbox.size },
        "control plane asked to send again later; messages stay in the outbox",
      );
      if (this.resumeTimer) clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => {
        this.resumeTimer = null;
        this.timers.delete(t);
        // A timer may fire a millisecond before Date.now() reaches the deadline.
        this.pausedUntil = 0;
        this.pump();
      }, delay);
      const t = this.resumeTimer;
      this.timers.add(t);
      return;
    }
    logger.error(
      { id: nack.id, code: nack.code, reason: nack.reason },
      "control plane refused a message for good; set aside in outbox/rejected",
    );
    if (!nack.id) return;
    const known = outbox.has(nack.id);
    outbox.reject(nack.id);
    this.inFlight.delete(nack.id);
    if (known) {
      this.setStatus({ rejected: this.status.rejected + 1 });
      this.options.onRejected?.(nack.id, nack.code, nack.reason);
    }
    this.pump();
  }

  private onMessage(text: string): void {
    let parsed: ReturnType<typeof ControlPlaneMessageSchema.safeParse>;
    try {
      parsed = ControlPlaneMessageSchema.safeParse(JSON.parse(text));
    } catch {
      this.options.logger.warn("control plane sent a frame that is not JSON; ignored");
      return;
    }
    if (!parsed.success) {
      this.options.logger.warn(
        { issues: parsed.error.issues.slice(0, 3) },
        "control plane sent an unknown message; ignored",
      );
      return;
    }
    const msg = parsed.data;
    if (msg.type === "ack") {
      const removed = this.options.outbox.ack(msg.payload.ids);
      for (const id of msg.payload.ids) this.inFlight.delete(id);
      this.retryBackoff.reset();
      this.setStatus({ lastAckAt: new Date().toISOString(), acked: this.status.acked + removed });
      this.pump();
    } else if (msg.type === "nack") {
      this.onNack(msg.payload);
    } else if (msg.type === "host-state") {
      this.options.onHostState(msg.payload);
    }
  }
}

import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { AGENT_WS_PATH } from "@podkit/control-plane";
import { type AgentMessage, ControlPlaneMessageSchema, PROTOCOL_VERSION } from "@podkit/core";
import WebSocket from "ws";

/**
 * A loopback TCP proxy the test controls: `cut()` resets every connection through it (a network
 * cut mid-query), `stall()` keeps the open connections open but silently stops forwarding on them
 * (a half-open link, as after a NAT timeout: no FIN, no RST; new connections work), `retarget()`
 * moves the address to another server.
 */
export class TcpProxy {
  private readonly pairs = new Set<{ a: Socket; b: Socket; stalled: boolean }>();
  private refusing = false;
  private constructor(
    private readonly server: Server,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, targetPort);
    server.on("connection", (a) => proxy.accept(a));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as { port: number }).port;
  }

  private accept(a: Socket): void {
    if (this.refusing) {
      a.resetAndDestroy();
      return;
    }
    const b = tcpConnect(this.targetPort, "127.0.0.1");
    const pair = { a, b, stalled: false };
    this.pairs.add(pair);
    const forward = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        if (!pair.stalled) to.write(chunk);
      });
    forward(a, b);
    forward(b, a);
    const end = (side: Socket) => {
      this.pairs.delete(pair);
      // On a dead link the other end hears nothing, not even a close.
      if (pair.stalled) side.destroy();
      else {
        a.destroy();
        b.destroy();
      }
    };
    for (const s of [a, b]) {
      s.on("error", () => end(s));
      s.on("close", () => end(s));
    }
  }

  /** Reset every connection through the proxy and refuse new ones for `ms`. */
  async cut(ms: number): Promise<void> {
    this.refusing = true;
    for (const { a, b } of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
    await new Promise((r) => setTimeout(r, ms));
    this.refusing = false;
  }

  /** Stop forwarding on the connections open now, without closing them (their bytes are dropped). */
  stall(): number {
    for (const pair of this.pairs) pair.stalled = true;
    return this.pairs.size;
  }

  /** Send new connections to another port and end the open ones (a failover behind one address). */
  retarget(port: number): void {
    this.targetPort = port;
    for (const { a, b } of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    for (const { a, b } of this.pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise((r) => this.server.close(r));
  }
}

/** SIGSTOP a process and its children (a stalled server), or SIGCONT them again. */
export function signalTree(pid: number, signal: "SIGSTOP" | "SIGCONT"): void {
  const children = execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" })
    .split("\n")
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  const order = signal === "SIGSTOP" ? [pid, ...children] : [...children, pid];
  for (const p of order) {
    try {
      process.kill(p, signal);
    } catch {
      // a backend that ended meanwhile
    }
  }
}

/**
 * An agent reduced to its reporting rules, for hundreds at once in one test process: every
 * message waits in an in-memory outbox until acknowledged; `retry-later` pauses and resends in
 * order; a lost connection is reopened and everything unacknowledged sent again.
 */
export class ReportingAgent {
  /** Every message text this agent created (each must end up stored exactly once). */
  readonly created: string[] = [];
  readonly rejected: string[] = [];
  retryLater = 0;
  reconnects = 0;
  private queue: AgentMessage[] = [];
  private readonly inFlight = new Set<string>();
  private ws: WebSocket | null = null;
  private pausedUntil = 0;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private counter = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly hostToken: string,
    readonly hostname: string,
  ) {}

  get pending(): number {
    return this.queue.length;
  }

  /** For a failure message: where this agent's reporting stands. */
  describe(): string {
    return `${this.hostname}: ${this.queue.length} waiting, ${this.inFlight.size} in flight, socket ${this.ws?.readyState ?? "none"}, ${this.retryLater} retry-later, ${this.reconnects} reconnects, paused ${Math.max(0, this.pausedUntil - Date.now())} ms`;
  }

  start(everyMs: number): void {
    this.connect();
    this.timer = setInterval(() => this.produce(), everyMs);
  }

  stopProducing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.closed = true;
    this.stopProducing();
    this.ws?.terminate();
  }

  private produce(): void {
    const text = `${this.hostname} report ${++this.counter}`;
    this.created.push(text);
    this.queue.push({
      v: PROTOCOL_VERSION,
      id: `msg-${randomUUID()}`,
      type: "event",
      sentAt: new Date().toISOString(),
      payload: { kind: "notice", message: text },
    });
    this.pump();
  }

  private connect(): void {
    if (this.closed) return;
    const ws = new WebSocket(`${this.baseUrl.replace(/^http/, "ws")}${AGENT_WS_PATH}`, {
      headers: { authorization: `Bearer ${this.hostToken}` },
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    ws.on("open", () => {
      this.inFlight.clear();
      this.pump();
    });
    ws.on("message", (data) => this.onFrame(String(data)));
    ws.on("unexpected-response", () => ws.terminate());
    ws.on("error", () => {});
    ws.on("close", () => {
      if (this.ws === ws) this.ws = null;
      this.inFlight.clear();
      this.reconnects++;
      setTimeout(() => this.connect(), 300 + Math.random() * 700);
    });
  }

  private onFrame(text: string): void {
    const msg = ControlPlaneMessageSchema.parse(JSON.parse(text));
    if (msg.type === "ack") {
      const acked = new Set(msg.payload.ids);
      for (const id of acked) this.inFlight.delete(id);
      this.queue = this.queue.filter((m) => !acked.has(m.id));
      this.pump();
    } else if (msg.type === "nack" && msg.payload.id) {
      this.inFlight.delete(msg.payload.id);
      if (msg.payload.kind === "retry-later") {
        this.retryLater++;
        if (Date.now() >= this.pausedUntil) {
          const wait = Math.max(msg.payload.retryAfterMs ?? 0, 500) * (0.5 + Math.random());
          this.pausedUntil = Date.now() + wait;
          setTimeout(() => {
            // Timers may fire a millisecond before Date.now() reaches the deadline.
            this.pausedUntil = 0;
            this.pump();
          }, wait);
        }
      } else {
        this.rejected.push(msg.payload.id);
        this.queue = this.queue.filter((m) => m.id !== msg.payload.id);
      }
    }
  }

  private pump(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || Date.now() < this.pausedUntil) return;
    for (const m of this.queue) {
      if (this.inFlight.size >= 16) break;
      if (this.inFlight.has(m.id)) continue;
      this.inFlight.add(m.id);
      ws.send(JSON.stringify(m));
    }
  }
}

/** Requests made to the control planes during the faults, with how long each took. */
export class RequestProbe {
  readonly results: Array<{ url: string; status: number | "error"; ms: number; retryAfter: string | null }> =
    [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight = 0;

  constructor(
    private readonly urls: string[],
    private readonly adminToken: string,
  ) {}

  start(everyMs: number): void {
    this.timer = setInterval(() => {
      for (const url of this.urls) void this.one(url);
    }, everyMs);
  }

  private async one(url: string): Promise<void> {
    this.inFlight++;
    const t0 = performance.now();
    try {
      const res = await fetch(url, {
        headers: { authorization: `Bearer ${this.adminToken}` },
        signal: AbortSignal.timeout(60_000),
      });
      await res.arrayBuffer();
      this.results.push({
        url,
        status: res.status,
        ms: performance.now() - t0,
        retryAfter: res.headers.get("retry-after"),
      });
    } catch {
      this.results.push({ url, status: "error", ms: performance.now() - t0, retryAfter: null });
    } finally {
      this.inFlight--;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 100));
  }
}

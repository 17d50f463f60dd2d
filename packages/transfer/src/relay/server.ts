import { createServer, type Server, type Socket } from "node:net";
import { deriveKey, open, seal } from "../crypto/aead.js";
import { encodeFrame, PING } from "../framing/frame.js";
import { FramedSocket } from "../framing/framed-socket.js";
import { Pake } from "../pake/pake.js";
import {
  DEFAULT_RELAY_PASSWORD,
  DEFAULT_RELAY_PORTS,
  encodeWelcome,
  formatAddress,
  RELAY_BAD_PASSWORD,
  RELAY_BUSY,
  RELAY_OK,
  RELAY_PAKE_CURVE,
  RELAY_ROOM_FULL,
  RELAY_WEAK_KEY,
  relayPasswordMatches,
} from "./handshake.js";

/** Limits that keep a misbehaving or hostile client from exhausting the relay. */
export interface RelayLimits {
  /** Largest frame accepted during the handshake (PAKE JSON for p521 is < 2 KiB). */
  maxHandshakeFrameBytes: number;
  /** A client must finish the handshake within this time. */
  handshakeTimeoutMs: number;
  /** Connections still in their handshake, per port. */
  maxPendingHandshakes: number;
  /** Rooms (waiting or paired) per port. */
  maxRooms: number;
  /** A lone first member is dropped after waiting this long (croc's room TTL is 3 h). */
  waitingRoomTtlMs: number;
  /** A paired room with no bytes either way for this long is closed. */
  pipeIdleMs: number;
  /** Longest room name accepted (croc's are 3 or 64+ characters). */
  maxRoomNameBytes: number;
  /** Interval of the 0x01 keep-alive sent to a waiting first member. */
  pingIntervalMs: number;
}

export const DEFAULT_RELAY_LIMITS: RelayLimits = {
  maxHandshakeFrameBytes: 16 * 1024,
  handshakeTimeoutMs: 30_000,
  maxPendingHandshakes: 64,
  maxRooms: 1024,
  waitingRoomTtlMs: 3 * 60 * 60 * 1000,
  pipeIdleMs: 30 * 60 * 1000,
  maxRoomNameBytes: 256,
  pingIntervalMs: 1000,
};

export interface RelayOptions {
  /** Address to listen on; default all interfaces like croc. Use 127.0.0.1 in tests. */
  host?: string;
  /** First port is the control port (its banner lists the others). 0 picks free ports. */
  ports?: readonly number[];
  /** Relay password clients must present; default croc's `pass123`. */
  pass?: string;
  limits?: Partial<RelayLimits>;
  /** Called for notable events (a room paired, a client refused); no secrets are passed. */
  onEvent?: (event: RelayEvent) => void;
}

export type RelayEvent =
  | { type: "listening"; address: string; ports: number[] }
  | { type: "paired"; port: number }
  /** A paired room ended; `bytes` were read from its two members (handshakes included). */
  | { type: "closed"; port: number; bytes: number }
  | { type: "refused"; port: number; reason: string; client: string };

export interface RelayHandle {
  /** `host:port` of the control port, what `--relay` takes. */
  address: string;
  host: string;
  ports: number[];
  /** Rooms currently open, per port (for tests and metrics). */
  roomCount(): number;
  /**
   * Takes the place of a room's other member on port `index` in-process: resolves with the socket of
   * the client that joins (or already waits in) `room`, framed, its relay handshake done. A sender
   * running its own relay claims its data rooms this way, so chunks go straight to the receiver's
   * socket instead of through a second socket and a pipe in the same process.
   */
  claim(index: number, room: string, signal?: AbortSignal): Promise<FramedSocket>;
  close(): Promise<void>;
}

interface Room {
  first: FramedSocket;
  paired: boolean;
  timer: NodeJS.Timeout;
  ping?: NodeJS.Timeout;
}

class RelayPort {
  readonly rooms = new Map<string, Room>();
  private readonly claims = new Map<string, (conn: FramedSocket) => void>();
  private pending = 0;
  readonly sockets = new Set<Socket>();
  banner = RELAY_OK;

  constructor(
    readonly server: Server,
    private readonly pass: string,
    private readonly limits: RelayLimits,
    private readonly emit: (event: RelayEvent) => void,
  ) {}

  get port(): number {
    const address = this.server.address();
    return typeof address === "object" && address ? address.port : 0;
  }

  accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    const client = formatAddress(socket.remoteAddress, socket.remotePort);
    if (this.pending >= this.limits.maxPendingHandshakes) {
      this.emit({ type: "refused", port: this.port, reason: "too many pending handshakes", client });
      socket.destroy();
      return;
    }
    this.pending++;
    const conn = new FramedSocket(socket, this.limits.maxHandshakeFrameBytes);
    conn.dropPings = false;
    const deadline = setTimeout(() => {
      this.emit({ type: "refused", port: this.port, reason: "handshake timeout", client });
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    this.handshake(conn, client)
      .catch((err: Error) => {
        this.emit({ type: "refused", port: this.port, reason: err.message, client });
        socket.destroy();
      })
      .finally(() => {
        this.pending--;
        clearTimeout(deadline);
      });
  }

  private async handshake(conn: FramedSocket, client: string): Promise<void> {
    const first = await conn.read();
    if (first.toString("latin1") === "ping") {
      await conn.write(Buffer.from("pong"));
      conn.socket.end();
      return;
    }
    const pake = new Pake(RELAY_WEAK_KEY, 1, RELAY_PAKE_CURVE);
    pake.update(first);
    await conn.write(pake.bytes());
    const salt = await conn.read();
    const key = deriveKey(pake.sessionKey, salt);
    const password = open(key, await conn.read()).toString("utf8");
    if (!relayPasswordMatches(password, this.pass)) {
      await conn.write(seal(key, Buffer.from(RELAY_BAD_PASSWORD)));
      throw new Error("bad password");
    }
    await conn.write(seal(key, Buffer.from(encodeWelcome(this.banner, client))));
    const roomBytes = open(key, await conn.read());
    if (roomBytes.length === 0 || roomBytes.length > this.limits.maxRoomNameBytes)
      throw new Error("bad room name");
    this.join(roomBytes.toString("utf8"), conn, key);
  }

  private join(name: string, conn: FramedSocket, key: Buffer): void {
    const answer = (text: string): void =>
      void conn.write(seal(key, Buffer.from(text))).catch(() => conn.close());
    const claimed = this.claims.get(name);
    if (claimed) {
      this.claims.delete(name);
      answer(RELAY_OK);
      claimed(reframe(conn));
      return;
    }
    const room = this.rooms.get(name);
    if (!room) {
      if (this.rooms.size >= this.limits.maxRooms) {
        answer(RELAY_BUSY);
        conn.socket.end();
        throw new Error("too many rooms");
      }
      const created: Room = {
        first: conn,
        paired: false,
        timer: setTimeout(() => conn.close(), this.limits.waitingRoomTtlMs),
      };
      this.rooms.set(name, created);
      conn.socket.on("close", () => {
        if (!created.paired) this.dropRoom(name, created);
      });
      answer(RELAY_OK);
      // The first keep-alive goes out at once, as croc's relay does: a receiver watching several rooms
      // tells the one a sender already waits in (no ping) from an empty one within a round trip.
      const ping = (): void => {
        if (conn.socket.writable) conn.socket.write(encodeFrame(PING));
      };
      ping();
      created.ping = setInterval(ping, this.limits.pingIntervalMs);
      return;
    }
    if (room.paired) {
      answer(RELAY_ROOM_FULL);
      conn.socket.end();
      throw new Error("room full");
    }
    room.paired = true;
    clearInterval(room.ping);
    clearTimeout(room.timer);
    answer(RELAY_OK);
    this.pipe(name, room, room.first, conn);
    this.emit({ type: "paired", port: this.port });
  }

  /** From here on the relay is a byte pipe; frames are the peers' business. */
  private pipe(name: string, room: Room, a: FramedSocket, b: FramedSocket): void {
    const restA = a.detach();
    const restB = b.detach();
    const sa = a.socket;
    const sb = b.socket;
    for (const s of [sa, sb]) {
      s.removeAllListeners("end");
      s.removeAllListeners("close");
      s.removeAllListeners("error");
      s.on("close", () => this.sockets.delete(s));
      s.setTimeout(this.limits.pipeIdleMs, () => {
        sa.destroy();
        sb.destroy();
      });
    }
    let closed = false;
    const finish = (): void => {
      sa.destroy();
      sb.destroy();
      this.dropRoom(name, room);
      if (closed) return;
      closed = true;
      this.emit({ type: "closed", port: this.port, bytes: sa.bytesRead + sb.bytesRead });
    };
    sa.on("error", finish).on("close", finish);
    sb.on("error", finish).on("close", finish);
    if (restA.length) sb.write(restA);
    if (restB.length) sa.write(restB);
    sa.pipe(sb);
    sb.pipe(sa);
    sa.resume();
    sb.resume();
  }

  claim(name: string, signal?: AbortSignal): Promise<FramedSocket> {
    return new Promise((resolve, reject) => {
      const waiting = this.rooms.get(name);
      if (waiting && !waiting.paired) {
        waiting.paired = true;
        this.dropRoom(name, waiting);
        resolve(reframe(waiting.first));
        return;
      }
      if (this.claims.has(name)) throw new Error(`room ${name} is already claimed`);
      const onAbort = (): void => {
        if (this.claims.get(name) !== done) return;
        this.claims.delete(name);
        reject(signal?.reason ?? new Error("aborted"));
      };
      const done = (conn: FramedSocket): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve(conn);
      };
      this.claims.set(name, done);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private dropRoom(name: string, room: Room): void {
    clearInterval(room.ping);
    clearTimeout(room.timer);
    if (this.rooms.get(name) === room) this.rooms.delete(name);
  }

  shutdown(): void {
    for (const [name, room] of this.rooms) this.dropRoom(name, room);
    for (const s of this.sockets) s.destroy();
  }
}

/** A relay-side connection, handshake done, as a peer's framed socket (no handshake frame limit). */
function reframe(conn: FramedSocket): FramedSocket {
  const rest = conn.detach();
  if (rest.length) conn.socket.unshift(rest);
  const framed = new FramedSocket(conn.socket);
  conn.socket.resume();
  return framed;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * A croc-compatible relay: croc 9/10, runpodctl and Podkit clients use it alike. Every port runs its own
 * room table; the first port's banner lists the others as data ports.
 */
export async function startRelay(options: RelayOptions = {}): Promise<RelayHandle> {
  const host = options.host ?? "0.0.0.0";
  const wanted = options.ports ?? DEFAULT_RELAY_PORTS;
  if (wanted.length < 2)
    throw new RangeError("a relay needs at least two ports (one control, one or more data)");
  const limits = { ...DEFAULT_RELAY_LIMITS, ...options.limits };
  const pass = options.pass ?? DEFAULT_RELAY_PASSWORD;
  const emit = options.onEvent ?? (() => {});
  const relays: RelayPort[] = [];
  try {
    for (const port of wanted) {
      const server = createServer();
      const relay = new RelayPort(server, pass, limits, emit);
      server.on("connection", (socket) => relay.accept(socket));
      await listen(server, host, port);
      relays.push(relay);
    }
  } catch (err) {
    for (const r of relays) r.server.close();
    throw err;
  }
  const ports = relays.map((r) => r.port);
  (relays[0] as RelayPort).banner = ports.slice(1).join(",");
  const address = formatAddress(host, ports[0]);
  emit({ type: "listening", address, ports });
  return {
    address,
    host,
    ports,
    roomCount: () => relays.reduce((n, r) => n + r.rooms.size, 0),
    claim: (index, room, signal) => {
      const port = relays[index];
      if (!port) throw new RangeError(`no relay port #${index}`);
      return port.claim(room, signal);
    },
    close: async () => {
      await Promise.all(
        relays.map(
          (r) =>
            new Promise<void>((resolve) => {
              r.server.close(() => resolve());
              r.shutdown();
            }),
        ),
      );
    },
  };
}

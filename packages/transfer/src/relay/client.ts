import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { AuthError, ConflictError, UnavailableError, ValidationError } from "@podkit/core";
import { deriveKey, open, seal } from "../crypto/aead.js";
import { FramedSocket, SocketReader } from "../framing/framed-socket.js";
import { Pake } from "../pake/pake.js";
import {
  bannerPorts,
  parseWelcome,
  RELAY_BAD_PASSWORD,
  RELAY_OK,
  RELAY_PAKE_CURVE,
  RELAY_ROOM_FULL,
  RELAY_WEAK_KEY,
} from "./handshake.js";

export interface RelayAddress {
  host: string;
  port: number;
}

export interface RelayConnection {
  conn: FramedSocket;
  /** Data ports from the banner (empty on a non-first port). */
  dataPorts: number[];
  /** How the relay sees us (`ip:port`), sent to the peer in `externalip`. */
  externalAddress: string;
}

/** A relay address without a port means 9009, like croc. IPv6 literals go in brackets. */
export function parseRelayAddress(text: string): RelayAddress {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) return { host: bracket[1] as string, port: Number(bracket[2] ?? 9009) };
  const colons = text.split(":").length - 1;
  if (colons === 1) {
    const [host, port] = text.split(":");
    const n = Number(port);
    if (!host || !Number.isInteger(n) || n < 1 || n > 65535)
      throw new ValidationError("relay address", [
        { path: "--relay", message: `"${text}" is not HOST:PORT` },
      ]);
    return { host, port: n };
  }
  if (text === "") throw new ValidationError("relay address", [{ path: "--relay", message: "empty" }]);
  return { host: text, port: 9009 };
}

export function formatRelayAddress(a: RelayAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

async function dial(address: RelayAddress, timeoutMs: number, signal?: AbortSignal): Promise<FramedSocket> {
  const reader = new SocketReader();
  const socket = await connectSocket(address, timeoutMs, reader, signal);
  return new FramedSocket(socket, undefined, reader);
}

function connectSocket(
  address: RelayAddress,
  timeoutMs: number,
  reader: SocketReader,
  signal?: AbortSignal,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address.host, port: address.port, signal, onread: reader.onread });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new UnavailableError(
          `could not reach relay ${formatRelayAddress(address)} within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(
        new UnavailableError(`could not reach relay ${formatRelayAddress(address)}: ${err.message}`, {
          cause: err,
        }),
      );
    });
  });
}

/**
 * Client side of the relay handshake (role 0 of a siec PAKE keyed 01 02 03, PBKDF2 over an 8-byte salt,
 * then the relay password and the room, each AES-GCM sealed). Resolves once we are in the room.
 */
export async function joinRelayRoom(options: {
  relay: RelayAddress;
  password: string;
  room: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}): Promise<RelayConnection> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const where = formatRelayAddress(options.relay);
  const conn = await dial(options.relay, timeoutMs, options.signal);
  try {
    const pake = new Pake(RELAY_WEAK_KEY, 0, RELAY_PAKE_CURVE);
    await conn.write(pake.bytes());
    pake.update(await conn.read(timeoutMs));
    const salt = randomBytes(8);
    await conn.write(salt);
    const key = deriveKey(pake.sessionKey, salt);
    await conn.write(seal(key, Buffer.from(options.password, "utf8")));
    const welcome = open(key, await conn.read(timeoutMs)).toString("utf8");
    if (welcome === RELAY_BAD_PASSWORD) {
      throw new AuthError(`relay ${where} refused the relay password (bad password); check --relay-pass`);
    }
    const parsed = parseWelcome(welcome);
    if (!parsed) throw new UnavailableError(`relay ${where} answered "${welcome}" instead of a welcome`);
    await conn.write(seal(key, Buffer.from(options.room, "utf8")));
    const answer = open(key, await conn.read(timeoutMs)).toString("utf8");
    if (answer === RELAY_ROOM_FULL) {
      throw new ConflictError(
        `room is full on relay ${where}: another transfer uses this code; pick another code`,
      );
    }
    if (answer !== RELAY_OK) throw new UnavailableError(`relay ${where} refused the room: ${answer}`);
    return { conn, dataPorts: bannerPorts(parsed.banner), externalAddress: parsed.externalAddress };
  } catch (err) {
    conn.close();
    throw err;
  }
}

/** `ping` → `pong`: checks that something croc-shaped listens there. */
export async function pingRelay(relay: RelayAddress, timeoutMs = 5000): Promise<boolean> {
  const conn = await dial(relay, timeoutMs);
  try {
    await conn.write(Buffer.from("ping"));
    return (await conn.read(timeoutMs)).toString() === "pong";
  } finally {
    conn.close();
  }
}

import { networkInterfaces } from "node:os";
import type { RoomPlan } from "../code/code.js";
import type { FramedSocket } from "../framing/framed-socket.js";
import type { RelayConnection } from "../relay/client.js";
import { joinRelayRoom } from "../relay/client.js";
import { type RelayHandle, startRelay } from "../relay/server.js";
import { peerGone } from "./errors.js";

/**
 * Direct transfers (croc's local mode): the sender runs a relay of its own on free ports of every
 * interface and answers the receiver's `ips?` (generation A, in clear; generation B, under the probe
 * key) with `[port, ip…]`; a receiver that reaches one of those addresses joins the same room there,
 * and all bytes then go straight between the two machines instead of through the public relay.
 */

/** This machine's IPv4 addresses other peers might reach (what croc's `GetLocalIPs` lists). */
export function localAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .flatMap((a) => (a && a.family === "IPv4" && !a.internal ? [a.address] : []));
}

/** The sender's own relay: one control and `dataPorts` data ports, on every interface. */
export async function startLocalRelay(password: string, dataPorts: number): Promise<RelayHandle> {
  return await startRelay({ host: "0.0.0.0", ports: new Array(dataPorts + 1).fill(0), pass: password });
}

/** The answer to `ips?`: croc's JSON list of strings, port first; `null` when there is nothing to offer. */
export function ipsAnswer(port: number | null, addresses: readonly string[] = localAddresses()): Buffer {
  if (port === null || addresses.length === 0) return Buffer.from("null");
  return Buffer.from(JSON.stringify([String(port), ...addresses]));
}

/** Parses the sender's `ips?` answer; anything but `[port, ip…]` means "no direct path". */
export function parseIpsAnswer(answer: Buffer): { port: number; ips: string[] } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.toString("utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length < 2 || !parsed.every((x) => typeof x === "string")) return null;
  const [port, ...ips] = parsed as string[];
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return null;
  return { port: n, ips: ips.filter((ip) => /^[0-9.]+$|^[0-9a-f:]+$/i.test(ip)) };
}

/** Same /24 as one of ours first (croc only tries those), then the rest. */
function byNearness(ips: readonly string[], ours: readonly string[]): string[] {
  const prefix = (ip: string): string => ip.split(".").slice(0, 3).join(".");
  const mine = new Set(ours.map(prefix));
  return [...ips].sort((a, b) => Number(mine.has(prefix(b))) - Number(mine.has(prefix(a))));
}

/**
 * Receiver: tries the sender's addresses at once, each within `timeoutMs`, and joins `room` on the
 * first that answers; null when none does (the public relay is used instead).
 */
export async function joinDirect(options: {
  port: number;
  ips: readonly string[];
  password: string;
  room: string;
  timeoutMs: number;
  signal?: AbortSignal;
}): Promise<{ rc: RelayConnection; host: string } | null> {
  const ips = byNearness(options.ips, localAddresses());
  if (ips.length === 0) return null;
  const attempts = ips.map(async (host) => ({
    host,
    rc: await joinRelayRoom({
      relay: { host, port: options.port },
      password: options.password,
      room: options.room,
      timeoutMs: options.timeoutMs,
      signal: options.signal,
    }),
  }));
  try {
    const won = await Promise.any(attempts);
    // Any other attempt that also got in is closed (it would hold a second place in the room).
    for (const a of attempts)
      void a.then(
        (other) => other !== won && other.rc.conn.close(),
        () => {},
      );
    return won;
  } catch {
    return null;
  }
}

/**
 * Sender on its own relay: the receiver's data connection j (port j + 1, room `dataRoom(j)`) becomes
 * the sender's data connection j itself, with no second socket and no pipe in between.
 */
export async function claimDataConnections(
  relay: RelayHandle,
  plan: RoomPlan,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<FramedSocket[]> {
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(peerGone("receiver")), timeoutMs);
  const onAbort = (): void => stop.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const claims = relay.ports.slice(1).map((_, j) => relay.claim(j + 1, plan.dataRoom(j), stop.signal));
  try {
    return await Promise.all(claims);
  } catch (err) {
    stop.abort(err);
    for (const c of claims)
      c.then(
        (conn) => conn.close(),
        () => {},
      );
    throw err;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

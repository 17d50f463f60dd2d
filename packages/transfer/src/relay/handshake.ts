import { createHash, timingSafeEqual } from "node:crypto";

/** The relay handshake's PAKE always runs on siec with this fixed "weak key". */
export const RELAY_WEAK_KEY = Buffer.from([1, 2, 3]);
export const RELAY_PAKE_CURVE = "siec";
export { DEFAULT_RELAY_PASSWORD, DEFAULT_RELAY_PORTS } from "./defaults.js";

/** Relay answers, in clear inside the AES-GCM envelope. */
export const RELAY_OK = "ok";
export const RELAY_BAD_PASSWORD = "bad password";
export const RELAY_ROOM_FULL = "room full";
export const RELAY_BUSY = "rate limited";

/** Compares relay passwords after trimming, in constant time (digests make the lengths equal). */
export function relayPasswordMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given.trim()).digest();
  const b = createHash("sha256").update(expected.trim()).digest();
  return timingSafeEqual(a, b);
}

/** `banner|||clientAddr`: the banner lists the data ports (first port only), else "ok". */
export function encodeWelcome(banner: string, clientAddress: string): string {
  return `${banner}|||${clientAddress}`;
}

export function parseWelcome(text: string): { banner: string; externalAddress: string } | null {
  const at = text.indexOf("|||");
  if (at < 0) return null;
  return { banner: text.slice(0, at), externalAddress: text.slice(at + 3) };
}

/** Data ports advertised in a banner; "ok" (banner of a non-first port) means none. */
export function bannerPorts(banner: string): number[] {
  if (banner === "" || banner === RELAY_OK) return [];
  return banner.split(",").map((p) => {
    const port = Number(p.trim());
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new RangeError(`relay banner has a bad port "${p}"`);
    return port;
  });
}

/** `ip:port` the way Go prints a TCP address (IPv6 in brackets, IPv4-mapped addresses unwrapped). */
export function formatAddress(address: string | undefined, port: number | undefined): string {
  const ip = (address ?? "").replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, "$1");
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}

import { createHash, randomUUID } from "node:crypto";

/** A fresh id for a new fact (stored with the message, so every resend reuses it). */
export function newMessageId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/**
 * A deterministic id for a fact found in a log: the same kernel-log record read again after a
 * restart gets the same id, so the control plane stores it once.
 */
export function stableMessageId(prefix: string, ...parts: Array<string | number>): string {
  return `${prefix}-${createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32)}`;
}

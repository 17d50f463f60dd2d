import { PodkitError } from "@podkit/core";
import { DecryptError, open, seal } from "../crypto/aead.js";
import { compress, decompress } from "../crypto/compress.js";

/** Control-channel message types of croc generations A and B (`pake-confirm` only appears in C). */
export type MessageType =
  | "pake"
  | "externalip"
  | "fileinfo"
  | "recipientready"
  | "close-sender"
  | "close-recipient"
  | "finished"
  | "error"
  | "pake-confirm";

/** croc's `message.Message`: every field omitted when empty; bytes travel as standard base64. */
export interface Message {
  type: MessageType | string;
  message?: string;
  bytes?: Buffer;
  bytes2?: Buffer;
  num?: number;
  /** Only croc 11 sets it (PAKE protocol version 2); used to name that generation in errors. */
  version?: number;
}

export class ProtocolError extends PodkitError<"E_PROTOCOL"> {
  constructor(message: string) {
    super("E_PROTOCOL", message);
  }
}

export function messageToJson(msg: Message): string {
  const obj: Record<string, unknown> = { t: msg.type };
  if (msg.message) obj.m = msg.message;
  if (msg.bytes && msg.bytes.length > 0) obj.b = msg.bytes.toString("base64");
  if (msg.bytes2 && msg.bytes2.length > 0) obj.b2 = msg.bytes2.toString("base64");
  if (msg.num) obj.n = msg.num;
  if (msg.version) obj.v = msg.version;
  return JSON.stringify(obj);
}

export function messageFromJson(json: string): Message {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new ProtocolError("peer sent a control message that is not JSON");
  }
  if (typeof raw !== "object" || raw === null)
    throw new ProtocolError("peer sent a malformed control message");
  const r = raw as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  const msg: Message = { type: str(r.t) ?? "" };
  if (str(r.m) !== undefined) msg.message = str(r.m);
  if (str(r.b) !== undefined) msg.bytes = Buffer.from(str(r.b) as string, "base64");
  if (str(r.b2) !== undefined) msg.bytes2 = Buffer.from(str(r.b2) as string, "base64");
  if (typeof r.n === "number") msg.num = r.n;
  if (typeof r.v === "number") msg.version = r.v;
  return msg;
}

/** JSON → raw deflate → AES-GCM when a key exists (the frame is added by the socket). */
export function encodeMessage(msg: Message, key: Buffer | null): Buffer {
  const packed = compress(Buffer.from(messageToJson(msg), "utf8"));
  return key ? seal(key, packed) : packed;
}

/**
 * Reverse of `encodeMessage`. With a key, only an unencrypted `pake` message is allowed through
 * in clear; without one, only `pake` is accepted at all (croc's "unencrypted communication rejected").
 */
export function decodeMessage(payload: Buffer, key: Buffer | null): Message {
  if (key) {
    try {
      return messageFromJson(decompress(open(key, payload)).toString("utf8"));
    } catch (err) {
      if (!(err instanceof DecryptError)) throw err;
      const plain = tryPlain(payload);
      if (plain?.type === "pake") return plain;
      throw err;
    }
  }
  const plain = tryPlain(payload);
  if (!plain) throw new ProtocolError("peer sent an unreadable control message");
  if (plain.type !== "pake") throw new ProtocolError(`unencrypted "${plain.type}" message rejected`);
  return plain;
}

function tryPlain(payload: Buffer): Message | null {
  try {
    return messageFromJson(decompress(payload, 1024 * 1024).toString("utf8"));
  } catch {
    return null;
  }
}

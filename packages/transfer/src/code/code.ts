import { createHash, randomBytes, randomInt } from "node:crypto";
import { ValidationError } from "@podkit/core";
import { mnemonicodeWords } from "./mnemonicode.js";

/** Peer protocol generations Podkit speaks: A (croc ≤ 9.6.15, runpodctl) and B (croc 9.6.16 – 10.7.0). */
export type Generation = "a" | "b";

/** Where two peers meet on a relay and the secret their PAKE uses, derived from the code phrase. */
export interface RoomPlan {
  generation: Generation;
  /** Room of the control connection. */
  controlRoom: string;
  /** Room of data connection j. */
  dataRoom(j: number): string;
  /** PAKE password: the bytes after the fifth byte of the code. */
  password: Buffer;
}

export const MIN_CODE_BYTES = 6;

function sha256hex(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Rejects codes too short to split into a room and a password, as croc does. */
export function assertCodeUsable(code: string): Buffer {
  const bytes = Buffer.from(code, "utf8");
  if (bytes.length < MIN_CODE_BYTES) {
    throw new ValidationError("code phrase", [
      {
        path: "code",
        message: `must be at least ${MIN_CODE_BYTES} bytes long (got ${bytes.length}); use the code the sender printed`,
      },
    ]);
  }
  return bytes;
}

/** Generation A: the room is the first 3 bytes in clear; data rooms hash the first 5 bytes. */
export function roomPlanA(code: string): RoomPlan {
  const bytes = assertCodeUsable(code);
  const dataPrefix = sha256hex(bytes.subarray(0, 5)).slice(0, 6);
  return {
    generation: "a",
    controlRoom: bytes.subarray(0, 3).toString("latin1"),
    dataRoom: (j) => `${dataPrefix}-${j}`,
    password: Buffer.from(bytes.subarray(5)),
  };
}

/** Generation B: the room is hex SHA-256 of the first 4 bytes + "croc"; data rooms append `-j`. */
export function roomPlanB(code: string): RoomPlan {
  const bytes = assertCodeUsable(code);
  const controlRoom = sha256hex(Buffer.concat([bytes.subarray(0, 4), Buffer.from("croc")]));
  return {
    generation: "b",
    controlRoom,
    dataRoom: (j) => `${controlRoom}-${j}`,
    password: Buffer.from(bytes.subarray(5)),
  };
}

export function roomPlan(code: string, generation: Generation): RoomPlan {
  return generation === "a" ? roomPlanA(code) : roomPlanB(code);
}

/**
 * Generation C (croc 11) room for codes made of three or four lowercase words; null for other codes
 * (croc 11 then falls back to the generation B room). Used only to detect croc 11 peers.
 */
export function roomC(code: string): string | null {
  const words = code.split("-");
  if (!words.every((w) => /^[a-z]+$/.test(w))) return null;
  if (words.length === 3) return sha256hex(`${words[0]}croc`);
  if (words.length === 4) return sha256hex(`${words[0]}-${words[1]}croc`);
  return null;
}

/**
 * A fresh code like croc's: four digits drawn from 0–8 (croc never uses 9), then three mnemonicode
 * words for 4 random bytes, e.g. `8338-galileo-collect-fidel`.
 */
export function generateCode(): string {
  const digits = Array.from({ length: 4 }, () => String(randomInt(9))).join("");
  return [digits, ...mnemonicodeWords(randomBytes(4))].join("-");
}

/**
 * runpodctl appends `-<relay index>` to its codes. Returns the index when the last `-` field is a
 * decimal number and the code has at least two fields, like runpodctl's receiver checks.
 */
export function relayIndexOf(code: string): number | null {
  const fields = code.split("-");
  const last = fields[fields.length - 1] ?? "";
  if (fields.length < 2 || !/^\d{1,4}$/.test(last)) return null;
  return Number(last);
}

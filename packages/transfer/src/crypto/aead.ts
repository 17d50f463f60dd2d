import { createCipheriv, createDecipheriv, pbkdf2Sync, randomBytes } from "node:crypto";
import { PodkitError } from "@podkit/core";

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class DecryptError extends PodkitError<"E_DECRYPT"> {
  constructor(message: string) {
    super("E_DECRYPT", message);
  }
}

/** croc's `crypt.New`: PBKDF2-HMAC-SHA256 with only 100 iterations, 32-byte key. */
export function deriveKey(secret: Uint8Array, salt: Uint8Array): Buffer {
  return pbkdf2Sync(secret, salt, 100, 32, "sha256");
}

/** AES-256-GCM, no associated data, output = nonce ‖ ciphertext ‖ tag (croc's envelope). */
export function seal(key: Uint8Array, plaintext: Uint8Array, nonce: Uint8Array = freshNonce()): Buffer {
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/** Nonces drawn from the system CSPRNG in batches: one call per chunk cost more than its AES-GCM. */
const NONCE_BATCH = 1024;
let nonces = Buffer.alloc(0);
let nextNonce = 0;

/** A fresh random 12-byte nonce (a slice of a batch that is never reused or overwritten). */
export function freshNonce(): Buffer {
  if (nextNonce + NONCE_BYTES > nonces.length) {
    nonces = randomBytes(NONCE_BYTES * NONCE_BATCH);
    nextNonce = 0;
  }
  nextNonce += NONCE_BYTES;
  return nonces.subarray(nextNonce - NONCE_BYTES, nextNonce);
}

/**
 * `seal` of the concatenated `plaintext` pieces, as parts (nonce, ciphertext…, tag) that a socket
 * writes without a copy: GCM is a stream mode, so the pieces never need joining.
 */
export function sealParts(key: Uint8Array, plaintext: Uint8Array | readonly Uint8Array[]): Buffer[] {
  const nonce = freshNonce();
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  const parts = [nonce];
  for (const piece of plaintext instanceof Uint8Array ? [plaintext] : plaintext)
    parts.push(cipher.update(piece));
  const final = cipher.final();
  if (final.length) parts.push(final);
  parts.push(cipher.getAuthTag());
  return parts;
}

export function open(key: Uint8Array, sealed: Uint8Array): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new DecryptError("ciphertext too short");
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv("aes-256-gcm", key, buf.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    const body = decipher.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES));
    const final = decipher.final(); // GCM is a stream mode: empty, but it checks the tag
    // No concatenation when there is nothing to add: a copy per chunk was a third of the receiver's garbage.
    return final.length === 0 ? body : Buffer.concat([body, final]);
  } catch {
    throw new DecryptError("message authentication failed");
  }
}
